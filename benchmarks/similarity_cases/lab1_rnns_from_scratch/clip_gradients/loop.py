def clip_gradients(grads, max_norm):
    """Scales every gradient by max_norm / global_norm when the global norm is at least max_norm.

    Args:
        grads: list of tensors (or None for variables the loss does not depend on).
        max_norm: positive float.

    Returns:
        (clipped_grads, global_norm): a list like grads, and the global norm before clipping.
    """
    # TODO: global_norm = sqrt(sum of squares of every entry of every non-None gradient); if it is at least
    # TODO: max_norm, multiply each non-None gradient by max_norm / global_norm (never divide by zero).
    # add up the squares one gradient at a time
    total = tf.constant(0.0)
    for g in grads:
        if g is not None:
            total += tf.reduce_sum(g ** 2)
    norm = tf.sqrt(total)
    if norm >= max_norm and norm > 0:
        factor = max_norm / norm
    else:
        factor = 1.0
    clipped = []
    for g in grads:
        clipped.append(None if g is None else g * factor)
    return clipped, norm

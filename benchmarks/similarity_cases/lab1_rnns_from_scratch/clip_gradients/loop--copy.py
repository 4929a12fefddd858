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
    # accumulate the squared entries of each gradient
    sq_sum = tf.constant(0.0)
    for grad in grads:
        if grad is not None:
            sq_sum += tf.reduce_sum(grad ** 2)
    gnorm = tf.sqrt(sq_sum)
    # only shrink when we are above the limit
    if gnorm >= max_norm and gnorm > 0:
        ratio = max_norm / gnorm
    else:
        ratio = 1.0
    out = []
    for grad in grads:
        out.append(None if grad is None else grad * ratio)
    return out, gnorm

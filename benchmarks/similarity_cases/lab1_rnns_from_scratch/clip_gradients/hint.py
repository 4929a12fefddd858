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
    squares = [tf.reduce_sum(tf.square(g)) for g in grads if g is not None]
    global_norm = tf.sqrt(tf.add_n(squares))
    if global_norm >= max_norm and global_norm > 0:
        return [None if g is None else g * (max_norm / global_norm) for g in grads], global_norm
    return grads, global_norm

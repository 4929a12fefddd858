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
    flat = tf.concat([tf.reshape(g, [-1]) for g in grads if g is not None], axis=0)
    global_norm = tf.math.sqrt(tf.math.reduce_sum(flat * flat))
    if global_norm < max_norm or global_norm == 0:
        return list(grads), global_norm  # nothing to clip
    return [g if g is None else g * (max_norm / global_norm) for g in grads], global_norm

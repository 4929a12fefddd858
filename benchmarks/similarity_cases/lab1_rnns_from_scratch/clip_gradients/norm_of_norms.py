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
    # the global norm is the norm of the vector of per-tensor norms
    norms = tf.stack([tf.norm(g) for g in grads if g is not None])
    global_norm = tf.norm(norms)
    ratio = tf.minimum(1.0, max_norm / (global_norm + 1e-12))
    return [g * ratio if g is not None else None for g in grads], global_norm

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
    import numpy as np

    arrays = {i: g.numpy() for i, g in enumerate(grads) if g is not None}
    squared = sum(float(np.sum(np.square(a))) for a in arrays.values())
    global_norm = tf.constant(np.sqrt(squared), dtype=tf.float32)
    shrink = max_norm / np.sqrt(squared) if squared > 0 and np.sqrt(squared) >= max_norm else 1.0
    result = [None] * len(grads)
    for i, a in arrays.items():
        result[i] = tf.constant(a * shrink, dtype=grads[i].dtype)
    return result, global_norm

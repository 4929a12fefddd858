"""What the labs' checks share beyond course_utils.checks itself (TensorFlow helpers)."""
from contextlib import contextmanager

import tensorflow as tf


@contextmanager
def full_float32():
    """Runs the body with TensorFloat-32 off: on Ampere and later GPUs, float32 matmuls otherwise keep 10 mantissa
    bits, far from a reference's float32 at the checks' tolerances. Restores the previous setting on the way out."""
    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(enabled)

"""What the labs' checks share beyond course_utils.checks itself: TensorFlow helpers and the comparisons of
recurrent cells that several labs' checks make."""

from contextlib import contextmanager

import numpy as np
import tensorflow as tf

from course_utils.checks import check_close, fail


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


def step_mismatch(atol, actual, expected, reference_name, hint_after_step_0):
    """None when (batch, time, ...) outputs agree to ``atol``, else a message naming the first step that differs."""
    per_step = np.max(
        np.abs(np.asarray(actual) - np.asarray(expected)).reshape(actual.shape[0], actual.shape[1], -1), axis=(0, 2)
    )
    bad = np.flatnonzero(per_step > atol)
    if not bad.size:
        return None
    step = int(bad[0])
    message = f"outputs differ from {reference_name} by {per_step[step]:.3g} at step {step}"
    return message + (f"; step 0 matches, so {hint_after_step_0}" if step > 0 else "")


def compare_final_states(atol, actual_h, actual_c, expected_h, expected_c, cell_state="final cell state c"):
    """An LSTM-like cell's final h and c against the expected ones, to ``atol``; names states returned as [c, h]."""
    if np.allclose(actual_h, expected_c, atol=atol) and np.allclose(actual_c, expected_h, atol=atol):
        fail("the states come back as [c, h]; Keras expects [h, c]")
    check_close("final hidden state h", actual_h, expected_h, atol=atol)
    check_close(cell_state, actual_c, expected_c, atol=atol)

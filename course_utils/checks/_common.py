"""What the labs' checks share beyond course_utils.checks itself: TensorFlow helpers and the comparisons of
recurrent cells that several labs' checks make."""

from contextlib import contextmanager

import numpy as np
import tensorflow as tf

from course_utils.checks import check_close, check_shape, fail, max_abs_diff


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


# What a check gives a student's model to compute with, so that it judges what the model computes, not only what it
# holds: weights drawn for the model's own weight shapes (no check spells a shape out: questions ask for the counts).
GIVEN_WEIGHT_SCALE = 0.5  # normal weights of this scale keep recurrent gates away from saturation
GIVEN_WEIGHTS_ATOL = 1e-4  # outputs of about 1 (logits, probabilities, states); room for a GPU's fused kernels


def given_weights(seed, weight_shapes):
    """The weights a check sets before reading what a model computes: from ``seed``, a float32 array of each shape in
    ``weight_shapes`` (the model's own, in order)."""
    rng = np.random.default_rng([seed, 1])  # apart from the draws of the check's inputs
    return [rng.normal(scale=GIVEN_WEIGHT_SCALE, size=tuple(shape)).astype("float32") for shape in weight_shapes]


def outputs_with_given_weights(model, inputs, seed):
    """``model``'s outputs for ``inputs`` at inference (dropout off) once :func:`given_weights` drawn for its own
    weight shapes are set: where the model's weights, their order or what it does with them differ from the lab's
    model, so do the outputs. An array, or a list of arrays for a model with several outputs."""
    model.set_weights(given_weights(seed, [w.shape for w in model.get_weights()]))
    with full_float32():
        outputs = model(inputs, training=False)
    return [np.asarray(output) for output in outputs] if isinstance(outputs, (list, tuple)) else np.asarray(outputs)


def compare_given_weights(what, outputs, wanted, hint):
    """Fails, with ``hint``, unless ``outputs`` (what the student's model computed with the given weights) are the lab's
    model's ``wanted`` to :data:`GIVEN_WEIGHTS_ATOL`."""
    outputs, wanted = np.asarray(outputs, np.float64), np.asarray(wanted, np.float64)
    check_shape(f"{what} with the check's weights", outputs, wanted.shape)
    if not np.allclose(outputs, wanted, atol=GIVEN_WEIGHTS_ATOL):
        fail(
            f"{what}, with the weights the check set, differ from the lab's by up to {max_abs_diff(outputs, wanted):.3g}: {hint}"
        )

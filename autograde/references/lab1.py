"""Private references for Lab 1's checks: what a correct answer, and each known mistake, gives on the probes' inputs.

Each ``expect_<name>`` takes the arguments of ``course_utils.checks.lab1.probe_<name>`` (sizes and a seed; never the
student's objects), makes the same inputs with the public input function, and returns plain data.
"""
import numpy as np
import tensorflow as tf

from course_utils.checks import lab1 as public


def expect_rnn_cell_weights(input_dim, units):
    return {"weight_shapes": [["kernel", [input_dim, units]], ["recurrent_kernel", [units, units]], ["bias", [units]]]}


def expect_rnn_cell_matches_simple_rnn(batch, steps, input_dim, units, seed):
    x, weights, projection = public.simple_rnn_inputs(batch, steps, input_dim, units, seed)
    x = tf.constant(x)
    reference = tf.keras.layers.SimpleRNN(units, return_sequences=True)
    reference.build((batch, steps, input_dim))
    reference.set_weights(weights)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = reference(x)
        loss = tf.reduce_sum(outputs * projection)
    grads = tape.gradient(loss, [x, *reference.trainable_weights])
    names = ["inputs", "kernel", "recurrent_kernel", "bias"]
    return {"outputs": outputs.numpy(), "gradients": {n: np.asarray(g) for n, g in zip(names, grads)}}

"""The Lab 1 checks pass the reference solution and catch typical mistakes with a useful message."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import fails_with, solution_namespace
from course_utils.checks import lab1 as checks


@pytest.fixture(scope="module")
def solution(course):
    return solution_namespace(course, "lab1_rnns_from_scratch")


def test_reference_solution_passes_every_check(solution):
    checks.check_rnn_cell_weights(solution["MyRNNCell"], input_dim=5, units=3)
    checks.check_rnn_cell_matches_simple_rnn(solution["MyRNNCell"], batch=2, steps=4, input_dim=2, units=3, seed=5)
    checks.check_rnn_model(solution["build_rnn_model"], solution["MyRNNCell"], seed=5)
    checks.check_jacobian_norms(solution["jacobian_norms"], units=5, steps=7, seed=5)
    checks.check_clip_gradients(solution["clip_gradients"], seed=5)
    checks.check_lstm_cell(solution["MyLSTMCell"], batch=2, steps=4, input_dim=2, units=3, seed=5)
    checks.check_recall_task(solution["make_selective_recall"], num_examples=100, length=10, seed=5)


def test_rnn_cell_with_transposed_kernel(solution):
    class Transposed(solution["MyRNNCell"]):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(self.units, input_shape[-1]))
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units))
            self.bias = self.add_weight(shape=(self.units,))

    fails_with(r"kernel .*expected shape \(3, 4\), got \(4, 3\)", checks.check_rnn_cell_weights, Transposed, 3, 4)


def test_rnn_cell_ignoring_the_previous_state(solution):
    class Forgetful(solution["MyRNNCell"]):
        def call(self, inputs, states):
            h = tf.tanh(tf.matmul(inputs, self.kernel) + self.bias)
            return h, [h]

    fails_with("at step 1; step 0 matches.*recurrent_kernel is not used", checks.check_rnn_cell_matches_simple_rnn, Forgetful)


def test_rnn_cell_without_bias(solution):
    class NoBias(solution["MyRNNCell"]):
        def call(self, inputs, states):
            h = tf.tanh(tf.matmul(inputs, self.kernel) + tf.matmul(states[0], self.recurrent_kernel))
            return h, [h]

    fails_with("at step 0.*bias is not used", checks.check_rnn_cell_matches_simple_rnn, NoBias)


def test_rnn_model_without_output_layer(solution):
    def no_dense(input_dim, units, output_dim, return_sequences=True):
        return tf.keras.Sequential([tf.keras.Input((None, input_dim)), tf.keras.layers.RNN(solution["MyRNNCell"](units), return_sequences=return_sequences)])

    fails_with(r"expected shape \(2, 6, 2\), got \(2, 6, 5\)", checks.check_rnn_model, no_dense, solution["MyRNNCell"])


def test_jacobian_norms_in_reverse_order(solution):
    fails_with("reverse order", checks.check_jacobian_norms, lambda w, u, f: solution["jacobian_norms"](w, u, f)[::-1])


def test_jacobian_norms_ignoring_the_activation(solution):
    fails_with("with tanh activation", checks.check_jacobian_norms, lambda w, u, f: solution["jacobian_norms"](w, u, tf.identity))


def test_reference_jacobian_norms_of_a_scaled_orthogonal_matrix():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    norms = checks.reference_jacobian_norms(0.9 * q, np.zeros((5, 8)), activation="identity")
    np.testing.assert_allclose(norms, np.sqrt(8) * 0.9 ** np.arange(1, 6))


def test_clip_that_always_rescales():
    def always(grads, max_norm):
        norm = tf.linalg.global_norm([g for g in grads if g is not None])
        return [None if g is None else g * max_norm / norm for g in grads], norm

    fails_with("below max_norm.*scaled by 1", checks.check_clip_gradients, always)


def test_clip_dropping_none_entries(solution):
    def drops_none(grads, max_norm):
        return solution["clip_gradients"]([g for g in grads if g is not None], max_norm)

    fails_with("None entries.*returned", checks.check_clip_gradients, drops_none)


def test_clip_dividing_by_zero():
    def unguarded(grads, max_norm):
        norm = tf.linalg.global_norm([g for g in grads if g is not None])
        return [None if g is None else g / norm * tf.minimum(norm, max_norm) for g in grads], norm

    fails_with("all-zero.*NaN", checks.check_clip_gradients, unguarded)


def test_lstm_with_gates_in_the_wrong_order(solution):
    class WrongOrder(solution["MyLSTMCell"]):
        def call(self, inputs, states):
            h_prev, c_prev = states
            z = tf.matmul(inputs, self.kernel) + tf.matmul(h_prev, self.recurrent_kernel) + self.bias
            z_i, z_c, z_f, z_o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(z_f) * c_prev + tf.sigmoid(z_i) * tf.tanh(z_c)
            h = tf.sigmoid(z_o) * tf.tanh(c)
            return h, [h, c]

    fails_with("order i, c, f, o: Keras packs them i, f, c, o", checks.check_lstm_cell, WrongOrder)


def test_lstm_returning_states_swapped(solution):
    class Swapped(solution["MyLSTMCell"]):
        def call(self, inputs, states):
            h, (_, c) = super().call(inputs, states)
            return h, [c, h]

    fails_with(r"step 0 matches, so check the new states you return: \[h, c\]", checks.check_lstm_cell, Swapped)


def test_lstm_with_one_state(solution):
    class OneState(solution["MyLSTMCell"]):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.state_size = units

    fails_with(r"state_size should be \[units, units\]", checks.check_lstm_cell, OneState)


def test_recall_task_with_the_wrong_target(solution):
    def first_token(n, length, num_symbols, seed):
        x, _ = solution["make_selective_recall"](n, length, num_symbols, seed)
        return x, x[:, 0]

    fails_with("right after the marker", checks.check_recall_task, first_token)


def test_recall_task_ignoring_the_seed(solution):
    def fixed_seed(n, length, num_symbols, seed):
        return solution["make_selective_recall"](n, length, num_symbols, 0)

    fails_with("different seed", checks.check_recall_task, fixed_seed)

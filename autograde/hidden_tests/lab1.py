"""Hidden tests for Lab 1, "RNNs from scratch"."""
from course_utils.checks import lab1 as checks


def test_rnn_cell_weights(cell_class):
    checks.check_rnn_cell_weights(cell_class, input_dim=7, units=2)
    checks.check_rnn_cell_weights(cell_class, input_dim=1, units=9)


def test_rnn_cell_matches_simple_rnn(cell_class):
    checks.check_rnn_cell_matches_simple_rnn(cell_class, batch=3, steps=9, input_dim=5, units=7, seed=11)
    checks.check_rnn_cell_matches_simple_rnn(cell_class, batch=1, steps=1, input_dim=2, units=3, seed=12)


def test_rnn_model(build_fn, cell_class):
    checks.check_rnn_model(build_fn, cell_class, input_dim=4, units=3, output_dim=6, steps=9, batch=3, seed=13)


def test_jacobian_norms(jacobian_norms_fn):
    checks.check_jacobian_norms(jacobian_norms_fn, units=9, steps=14, seed=14)
    checks.check_jacobian_norms(jacobian_norms_fn, units=2, steps=1, seed=15)


def test_clip_gradients(clip_fn):
    checks.check_clip_gradients(clip_fn, seed=16)


def test_lstm_cell(cell_class):
    checks.check_lstm_cell(cell_class, batch=3, steps=8, input_dim=6, units=5, seed=17)
    checks.check_lstm_cell(cell_class, batch=1, steps=1, input_dim=1, units=2, seed=18)


def test_peephole_lstm_cell(cell_class):
    checks.check_peephole_lstm_cell(cell_class, batch=3, steps=8, input_dim=6, units=5, seed=21)
    checks.check_peephole_lstm_cell(cell_class, batch=1, steps=2, input_dim=1, units=2, seed=22)


def test_recall_task(make_fn):
    checks.check_recall_task(make_fn, num_examples=300, length=21, num_symbols=6, seed=19)
    checks.check_recall_task(make_fn, num_examples=40, length=4, num_symbols=3, seed=20)

"""Hidden tests for Lab 2, "Music generation with an LSTM"."""
from course_utils.checks import lab2 as checks


def test_vectorize(vectorize_fn, to_text_fn):
    checks.check_vectorize(vectorize_fn, to_text_fn, vocab_size=60, length=300, seed=21)
    checks.check_vectorize(vectorize_fn, to_text_fn, vocab_size=2, length=1, seed=22)


def test_get_batch(get_batch_fn):
    checks.check_get_batch(get_batch_fn, data_length=2000, seq_length=50, batch_size=7, seed=23)
    checks.check_get_batch(get_batch_fn, data_length=40, seq_length=3, batch_size=1, seed=24)


def test_build_model(build_fn):
    checks.check_build_model(build_fn, vocab_size=7, embedding_dim=3, rnn_units=5, seed=25)
    checks.check_build_model(build_fn, vocab_size=83, embedding_dim=16, rnn_units=24, seed=26)


def test_loss(loss_fn):
    checks.check_loss(loss_fn, batch=1, steps=30, vocab_size=71, seed=27)
    checks.check_loss(loss_fn, batch=8, steps=2, vocab_size=3, seed=28)


def test_train_step(make_train_step_fn, build_fn):
    checks.check_train_step(make_train_step_fn, build_fn, vocab_size=17, batch=5, steps=4, seed=29)


def test_generate(generate_fn):
    checks.check_generate(generate_fn, vocab_size=11, start_length=1, length=6, seed=40)
    checks.check_generate(generate_fn, vocab_size=3, start_length=9, length=20, seed=41)


def test_sample_next(sample_fn):
    checks.check_sample_next(sample_fn, vocab_size=9, seed=30)
    checks.check_sample_next(sample_fn, vocab_size=2, seed=31)

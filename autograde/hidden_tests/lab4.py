"""Hidden tests for Lab 4, "Sequence to sequence with attention"."""
from course_utils.checks import lab4 as checks


def test_gru_cell(cell_class):
    checks.check_gru_cell(cell_class, input_dim=5, units=6, batch=3, steps=7, seed=41)
    checks.check_gru_cell(cell_class, input_dim=1, units=1, batch=1, steps=1, seed=42)


def test_encoder(build_fn):
    checks.check_encoder(build_fn, vocab_size=11, embed_dim=2, units=5, batch=4, steps=9, seed=43)
    checks.check_encoder(build_fn, vocab_size=4, embed_dim=1, units=1, batch=1, steps=1, seed=44)


def test_attention(layer_class):
    checks.check_attention(layer_class, batch=2, query_steps=3, key_steps=9, query_dim=4, key_dim=2, units=5, seed=45)
    checks.check_attention(layer_class, batch=1, query_steps=1, key_steps=2, query_dim=1, key_dim=1, units=1, seed=46)


def test_decoder_io(make_fn):
    checks.check_decoder_io(make_fn, start_id=1, end_id=2, batch=6, steps=11, seed=47)
    checks.check_decoder_io(make_fn, start_id=1, end_id=2, batch=1, steps=1, seed=48)


def test_masked_loss(loss_fn):
    checks.check_masked_loss(loss_fn, batch=5, steps=11, vocab_size=14, seed=49)
    checks.check_masked_loss(loss_fn, batch=1, steps=1, vocab_size=3, seed=50)


def test_train_step(make_train_step_fn):
    checks.check_train_step(make_train_step_fn, batch=2, source_steps=9, target_steps=6, seed=51)


def test_sequence_accuracy(accuracy_fn):
    checks.check_sequence_accuracy(accuracy_fn, batch=9, steps=11, seed=52)
    checks.check_sequence_accuracy(accuracy_fn, batch=2, steps=1, seed=53)


def test_greedy_decoder(make_fn):
    checks.check_greedy_decoder(make_fn, start_id=1, end_id=2, max_length=9, batch=7, steps=5, seed=54)


def test_beam_search(beam_search_fn):
    checks.check_beam_search(beam_search_fn, vocab_size=5, max_length=3, start_id=4, end_id=2, seed=55)

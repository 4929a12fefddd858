"""Hidden tests for Lab 3, "Tweet sentiment with embeddings and (bi)directional LSTMs"."""
from course_utils.checks import lab3 as checks


def test_classifier(build_fn):
    checks.check_classifier(build_fn, vocab_size=23, embed_dim=3, units=2, num_classes=5, batch=3, steps=9, seed=31)
    checks.check_classifier(build_fn, vocab_size=7, embed_dim=1, units=1, num_classes=2, batch=1, steps=1, seed=32)


def test_encoder(make_fn):
    checks.check_encoder(make_fn, input_dim=2, units=7, vocab_size=13, batch=2, steps=11, seed=33)
    checks.check_encoder(make_fn, input_dim=9, units=1, vocab_size=5, batch=1, steps=1, seed=34)


def test_class_weights(class_weights_fn):
    checks.check_class_weights(class_weights_fn, size=1000, num_classes=5, seed=35)
    checks.check_class_weights(class_weights_fn, size=20, num_classes=2, seed=36)


def test_macro_recall(macro_recall_fn):
    checks.check_macro_recall(macro_recall_fn, size=1000, num_classes=5, seed=37)
    checks.check_macro_recall(macro_recall_fn, size=7, num_classes=2, seed=38)


def test_attention_pooling(layer_class):
    checks.check_attention_pooling(layer_class, batch=3, steps=10, features=8, units=6, seed=39)
    checks.check_attention_pooling(layer_class, batch=2, steps=2, features=1, units=1, seed=40)


def test_string_model(build_fn, vectorizer, model, texts):
    checks.check_string_model(build_fn, vectorizer, model, ["", "@user :) :) :)", "#fail!!!", *texts])


def test_layer_norm_lstm_cell(cell_class):
    checks.check_layer_norm_lstm_cell(cell_class, batch=3, steps=8, input_dim=7, units=5, seed=41)
    checks.check_layer_norm_lstm_cell(cell_class, batch=1, steps=2, input_dim=1, units=2, seed=42)

"""Characters per second of Lab 2's compiled batched sampler against the plain eager one-character loop.

The baseline is the loop most people write first: Python feeds one character at a time to the
model's layers, in eager mode, carrying the LSTM state (already far better than re-running the
model over the whole text for every character). Both run in the same process, on the same model,
so the ratios hold on a busy machine even when the absolute numbers do not.

Targets: at least 20x the eager loop's chars/s with one tune, at least 200x with 32 tunes at once.

    python benchmarks/lab2_sampling_speed.py [--model-dir artifacts/lab2] [--length 1000]

Without --model-dir it builds an untrained model of the lab's full size (speed does not depend on the weights).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from course_utils import training
from course_utils.sampling import CharSampler

TARGETS = {1: 20, 32: 200}


def sample_next(logits, temperature):
    """The sampling step students write in Lab 2 (course_utils ships none), restated for the benchmark."""
    return tf.random.categorical(logits / temperature, num_samples=1, dtype=tf.int32)[:, 0]


def sample_in_time(logits, temperature, fill, closes):
    """Lab 2's constrained sampling step (students write it; course_utils ships none), restated for the benchmarks."""
    allowed = (fill <= 1.0) & (~closes | (fill == 1.0))
    return tf.random.categorical(tf.where(allowed, logits / temperature, -np.inf), num_samples=1, dtype=tf.int32)[:, 0]


def untrained_model(vocab_size, embedding_dim, rnn_units):
    # The lab's architecture; the notebook's build_model is the students' exercise, so it is restated here.
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim),
            keras.layers.LSTM(rnn_units, return_sequences=True),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(vocab_size),
        ]
    )


def eager_generate(sampler, start_ids, length, num_samples, temperature=1.0):
    """The baseline: a Python loop that advances the layers one character at a time, eagerly."""
    states = sampler.zero_states(num_samples)
    for i in start_ids:
        logits, states = sampler.step(tf.fill([num_samples], int(i)), states)
    out = []
    for _ in range(length):
        ids = sample_next(logits, tf.constant(temperature))
        out.append(ids.numpy())
        logits, states = sampler.step(ids, states)
    return np.stack(out, axis=1)


def chars_per_second(generate, num_samples, length, repeats):
    generate(num_samples, min(length, 20))  # warm-up: traces and compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate(num_samples, length)
        best = min(best, time.perf_counter() - start)
    return num_samples * length / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="folder with model.keras and vocab.json (default: an untrained model)")
    parser.add_argument("--length", type=int, default=1000, help="characters per tune for the compiled sampler")
    parser.add_argument("--eager-length", type=int, default=200, help="characters per tune for the eager loop")
    parser.add_argument("--rnn-units", type=int, default=384)
    parser.add_argument("--embedding-dim", type=int, default=64)
    args = parser.parse_args()

    if args.model_dir:
        model, vocab = training.load_char_model(args.model_dir)
        vocab_size = len(vocab)
    else:
        vocab_size = 60
        model = untrained_model(vocab_size, args.embedding_dim, args.rnn_units)
    sampler = CharSampler(model, sample_next)
    start_ids = np.zeros(4, dtype=np.int32)
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.RNN))
    print(f"model: LSTM({lstm.units}), vocabulary {vocab_size}; load average {os.getloadavg()[0]:.2f} (1 min)")

    eager = chars_per_second(lambda n, length: eager_generate(sampler, start_ids, length, n), 1, args.eager_length, 3)
    print(f"eager one-character loop, batch  1: {eager:10.0f} chars/s")
    for batch, target in TARGETS.items():
        compiled = chars_per_second(lambda n, length: sampler(start_ids, length, n, 1.0), batch, args.length, 3)
        ratio = compiled / eager
        verdict = "meets" if ratio >= target else "MISSES"
        print(
            f"compiled sampler,         batch {batch:2d}: {compiled:10.0f} chars/s = {ratio:6.1f}x the eager loop ({verdict} the {target}x target)"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()

"""Lab 3's two regularisation comparisons on several seeds: layer norm, and naive against variational dropout.

The notebook trains each model of these comparisons once, on one seed; this script trains them on several
(default 0, 1, 2) under one stopping rule that treats the models alike: every model trains the same fixed
number of epochs and is judged at its own best epoch by the dev loss (what early stopping's
``restore_best_weights`` keeps). For each model it prints, per seed and as mean ± standard deviation and
range: the best dev loss, the epoch it was reached, val macro recall at that epoch, and the seconds an
epoch takes (median of the epochs after the first, which also compiles).

* ``--part layer_norm``: the plain LSTM of Part 3 (``LSTM``), the same cell in Keras's generic loop
  (``RNN(LSTMCell)``), and the solution's ``RNN(LayerNormLSTMCell)``, without class weights as in the
  notebook. The middle one separates what the loop costs from what the normalisations cost: on a GPU
  ``LSTM`` runs cuDNN's fused kernel, which ``RNN(...)`` never does; on a CPU both run the same loop.
* ``--part dropout``: the BiLSTM with class weights, ``recurrent_dropout`` and the dropout before the
  output layer, with the word vectors dropped one way or the other: ``SpatialDropout1D`` (one mask per
  tweet, variational) or ``Dropout`` (a fresh mask at every step, naive). One factor changes: whether
  the input mask is shared across steps. A third model keeps the variational input dropout and leaves
  out ``recurrent_dropout``, the other factor the notebook's earlier comparison changed with it.
* ``--part speed``: the three models of ``layer_norm``, timed on the same training batches in turns (a round
  of batches for each model, then the next round), so that a load that changes over time affects all three
  alike; it prints the milliseconds a batch (median and fastest round) and each model's ratio to ``LSTM`` round by round.

Runs the solution notebook's own cells (data, vocabulary, layers, the reference LayerNormLSTMCell) in
this process, as ``lab3_variants.py`` does.

    TWEETS_DIR=../shared/data/tweets python benchmarks/lab3_seeds.py --part layer_norm|dropout|speed [--seeds 0 1 2] [--epochs 4]
"""

import argparse
import os
import tempfile
import time

import matplotlib
import numpy as np
from lab3_variants import DATA_AND_MODEL_CELLS
from solution_cells import run_solution_cells

from autograde.course import Course

# The data and model cells lab3_variants.py runs, and the layer-normalised cell.
CELLS = DATA_AND_MODEL_CELLS + [("layer-norm-lstm-cell", None)]


def models(part, ns):
    """{name: (a function building the model, whether it trains with class weights)} for one part."""
    keras, build, units, embed, vocab = (
        ns["keras"],
        ns["build_classifier"],
        ns["UNITS"],
        ns["EMBED_DIM"],
        ns["VOCAB_SIZE"],
    )
    dropout, recurrent_dropout = ns["DROPOUT"], ns["RECURRENT_DROPOUT"]
    if part in ("layer_norm", "speed"):
        return {
            "LSTM": (lambda: build(vocab, embed, [keras.layers.LSTM(units)]), False),
            "RNN(LSTMCell)": (lambda: build(vocab, embed, [keras.layers.RNN(keras.layers.LSTMCell(units))]), False),
            "RNN(LayerNormLSTMCell)": (
                lambda: build(vocab, embed, [keras.layers.RNN(ns["LayerNormLSTMCell"](units))]),
                False,
            ),
        }

    def bilstm(rate):
        return keras.layers.Bidirectional(keras.layers.LSTM(units, recurrent_dropout=rate))

    return {
        "variational inputs + recurrent": (
            lambda: build(vocab, embed, [bilstm(recurrent_dropout)], dropout=dropout),
            True,
        ),
        "naive inputs + recurrent": (
            lambda: build(
                vocab,
                embed,
                [keras.layers.Dropout(dropout), bilstm(recurrent_dropout), keras.layers.Dropout(dropout)],
            ),
            True,
        ),
        "variational inputs, no recurrent": (lambda: build(vocab, embed, [bilstm(0.0)], dropout=dropout), True),
    }


def train_fixed(ns, model, class_weight, epochs):
    """Trains ``epochs`` epochs; returns per-epoch dev loss, val macro recall and seconds."""
    keras, y_dev, y_val = ns["keras"], ns["y_dev"], ns["y_val"]
    model.compile(
        optimizer=keras.optimizers.Adam(ns["LEARNING_RATE"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dev = (ns["x_dev"], y_dev)
    if class_weight:  # as the notebook's train(): the dev loss weighted like the training loss
        dev = (ns["x_dev"], y_dev, np.array([class_weight[label] for label in y_dev]))
    record = {"seconds": [], "val_macro_recall": []}

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            record["seconds"].append(time.monotonic() - self.start)  # fit and dev loss, not the val scoring below
            predicted = self.model.predict(ns["x_val"], batch_size=512, verbose=0).argmax(axis=1)
            record["val_macro_recall"].append(ns["macro_recall"](y_val, predicted))

    history = model.fit(
        ns["x_fit"],
        ns["y_fit"],
        validation_data=dev,
        epochs=epochs,
        batch_size=ns["BATCH_SIZE"],
        class_weight=class_weight,
        callbacks=[Record()],
        verbose=0,
    )
    record["dev_loss"] = history.history["val_loss"]
    return record


def time_in_turns(ns, built, rounds=10, batches=20):
    """{name: [seconds a training batch, one per round]}: each round times ``batches`` batches of every model in turn,
    after a first round that is not timed (the first steps after compiling are slower)."""
    keras, size = ns["keras"], ns["BATCH_SIZE"]
    x, y = ns["x_fit"], ns["y_fit"]
    for model in built.values():
        model.compile(optimizer=keras.optimizers.Adam(ns["LEARNING_RATE"]), loss="sparse_categorical_crossentropy")
    seconds = {name: [] for name in built}
    for round_ in range(rounds + 1):
        for name, model in built.items():
            start = time.monotonic()
            for b in range(batches):
                rows = (round_ * batches + b) * size + np.arange(size)
                model.train_on_batch(x[rows % len(x)], y[rows % len(x)])
            if round_:
                seconds[name].append((time.monotonic() - start) / batches)
    return seconds


def summary(values, digits=3):
    values = np.asarray(values, dtype=float)
    spread = f" ± {values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{spread} (range {values.min():.{digits}f}–{values.max():.{digits}f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("layer_norm", "dropout", "speed"), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4, help="epochs every model trains (judged at its best dev loss)")
    parser.add_argument("--budget", choices=("full", "smoke"), default="full")
    args = parser.parse_args()
    os.environ["LAB_BUDGET"] = args.budget
    matplotlib.use("Agg")
    course = Course.find()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAB_OUTPUT_DIR"] = tmp
        ns = run_solution_cells(course, course.resolve_lab("lab3"), CELLS)
        if args.part == "speed":
            ns["keras"].utils.set_random_seed(0)
            built = {name: build() for name, (build, _) in models(args.part, ns).items()}
            seconds = time_in_turns(ns, built)
            print(
                f"CPU cores available {len(os.sched_getaffinity(0))}; load average before {load_before[0]:.2f}, "
                f"after {os.getloadavg()[0]:.2f}; ms a training batch of {ns['BATCH_SIZE']}, median and fastest of "
                "the rounds, and each round's ratio to LSTM's in the same round:"
            )
            for name, values in seconds.items():
                ratios = np.array(values) / np.array(seconds["LSTM"])
                print(
                    f"  {name:24} median {1000 * np.median(values):6.1f} ms, fastest {1000 * np.min(values):6.1f} ms "
                    f"(rounds {' '.join(f'{1000 * v:.1f}' for v in values)}); x LSTM by round: "
                    f"{' '.join(f'{r:.2f}' for r in ratios)}, median {np.median(ratios):.2f}"
                )
            return
        results = {}
        for name, (build, weighted) in models(args.part, ns).items():
            for seed in args.seeds:
                ns["keras"].utils.set_random_seed(seed)
                record = train_fixed(ns, build(), ns["fit_class_weights"] if weighted else None, args.epochs)
                best = int(np.argmin(record["dev_loss"]))
                row = {
                    "best dev loss": record["dev_loss"][best],
                    "best epoch": best + 1,
                    "val macro recall": record["val_macro_recall"][best],
                    "s an epoch": float(np.median(record["seconds"][1:] or record["seconds"])),
                }
                results.setdefault(name, []).append(row)
                print(
                    f"{name:34} seed {seed}: dev loss by epoch "
                    + " ".join(f"{loss:.3f}" for loss in record["dev_loss"])
                    + "; val macro recall by epoch "
                    + " ".join(f"{r:.3f}" for r in record["val_macro_recall"])
                    + "; s an epoch "
                    + " ".join(f"{s:.1f}" for s in record["seconds"]),
                    flush=True,
                )

    load_after = os.getloadavg()
    print(
        f"\npart {args.part}, budget {args.budget}, seeds {args.seeds}, {args.epochs} epochs each, judged at the best "
        f"dev loss; {len(ns['x_fit'])} fit tweets; CPU cores available {len(os.sched_getaffinity(0))}; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
    )
    for name, rows in results.items():
        print(f"{name}:")
        for key in rows[0]:
            print(f"  {key:17} {summary([row[key] for row in rows], 1 if key in ('best epoch', 's an epoch') else 3)}")


if __name__ == "__main__":
    main()

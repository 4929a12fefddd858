"""Lab 4's normaliser: exact match with and without attention, by kind of variation, exposure bias, greedy against
beam search, decoding speed, run time.

Runs the solution notebook top to bottom in a fresh kernel (so both models are trained exactly as
students train them) and reads the description it saves beside the normaliser. Targets with
LAB_BUDGET=full on a 2-core CPU: the whole notebook in at most 10 minutes; with attention, greedy
exact match of at least 99% on the held-out test split and 95% on the longer-inputs split; without
attention (as many parameters), worse on the longer-inputs split; beam search at least as accurate as
greedy decoding on the same examples; the compiled batched greedy decoder at least 20 times faster
than the same decoder run eagerly at batch 32. Reported without a target: exact match by kind of
variation (hesitations, and the "unseen" split's variation that training never has), and teacher-forced
against free-running token accuracy (exposure bias). The load average is printed too, since other work
inflates the times.

With ``--scheduled-sampling`` it runs instead the solution's own cells (data, model, loss, train step,
decoders, exposure-bias measure) in this process and trains the model with attention on each seed
twice, with the notebook's settings: by teacher forcing (the notebook's train step), and with scheduled
sampling (Bengio et al., 2015, "Scheduled Sampling for Sequence Prediction with Recurrent Neural
Networks", NeurIPS) in the two-pass form of Mihaylova & Martins (2019, "Scheduled Sampling for
Transformers", ACL Student Research Workshop): a first teacher-forced pass (not trained through, dropout
off) gives the model's own greedy guess at every step; the second pass, which the loss trains, reads at
each real step after the start token the guess for the step before in place of the true character, with
a probability that rises linearly from 0 to ``--max-probability`` over training. A true step-by-step
version would need a sequential decoder in training. Both variants of a seed start from the same weights
and see the same batches. It prints, per seed and variant, greedy exact match on val, test, long and
unseen and teacher-forced against free-running token accuracy, then the mean and range over the seeds.

    python benchmarks/lab4_seq2seq.py [--budget full|smoke] [--executed OUT.ipynb]
    python benchmarks/lab4_seq2seq.py --scheduled-sampling [--seeds 0 1 2] [--max-probability 0.25] [--budget full|smoke]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import matplotlib
import nbformat
from solution_cells import run_solution_cells

from autograde.authoring.solutions import execute_solution
from autograde.course import Course

TARGETS = {"test": 0.99, "long": 0.95, "speedup": 20, "seconds": 600}


def verdict(ok):
    return "met" if ok else "MISSED"


# The solution's cells that scheduled sampling needs, each run up to the given text (None: whole).
CELLS = [
    ("cell-02", None),
    ("cell-04", None),
    ("cell-07", None),
    ("gru-cell", None),
    ("encoder", None),
    ("attention", None),
    ("cell-21", None),
    ("decoder-io", None),
    ("masked-loss", None),
    ("train-step", None),
    ("sequence-accuracy", None),
    ("cell-36", "\nattention_model = Seq2Seq("),
    ("greedy-decoder", None),
    ("cell-42", "\ngreedy = make_greedy_decoder("),
    ("exposure-bias", "\nexposure = {"),
]


def lab4_namespace():
    """The solution's definitions and data, by running the cells of CELLS in a fresh namespace."""
    matplotlib.use("Agg")
    course = Course.find()
    return run_solution_cells(course, course.resolve_lab("lab4"), CELLS)


def make_scheduled_sampling_step(ns, model, optimizer):
    """A compiled train step whose decoder reads, at each real step after the start token and with the given
    probability, the model's own greedy guess for the step before (from a first teacher-forced pass) instead
    of the true character."""
    tf, masked_loss, pad = ns["tf"], ns["masked_loss"], ns["PAD"]

    @tf.function
    def train_step(source, decoder_input, decoder_target, probability):
        guesses = tf.argmax(model(source, decoder_input, training=False), axis=-1, output_type=tf.int32)
        previous_guess = tf.concat([decoder_input[:, :1], guesses[:, :-1]], axis=1)
        after_start = tf.range(tf.shape(decoder_input)[1]) > 0
        replace = (tf.random.uniform(tf.shape(decoder_input)) < probability) & (decoder_input != pad) & after_start
        mixed_input = tf.where(replace, previous_guess, decoder_input)
        with tf.GradientTape() as tape:
            loss = masked_loss(decoder_target, model(source, mixed_input, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return train_step


def train_variant(ns, seed, max_probability):
    """A model with attention trained with the notebook's settings on one seed; max_probability 0 is the
    notebook's teacher forcing (its own train step), above 0 scheduled sampling rising linearly to it."""
    keras, np, tf = ns["keras"], ns["np"], ns["tf"]
    keras.utils.set_random_seed(seed)
    model = ns["Seq2Seq"](
        ns["SOURCE_VOCAB_SIZE"], ns["TARGET_VOCAB_SIZE"], ns["EMBED_DIM"], ns["UNITS"], attention=True
    )
    optimizer = keras.optimizers.Adam(ns["LEARNING_RATE"], global_clipnorm=1.0)
    if max_probability == 0:
        plain_step = ns["make_train_step"](model, optimizer)
        train_step = lambda source, decoder_input, decoder_target, probability: plain_step(  # noqa: E731
            source, decoder_input, decoder_target
        )
    else:
        train_step = make_scheduled_sampling_step(ns, model, optimizer)
    rng = np.random.default_rng(seed)
    total_steps = ns["EPOCHS"] * int(np.ceil(len(ns["source_ids"]["train"]) / ns["BATCH_SIZE"]))
    step, start = 0, time.time()
    for _ in range(ns["EPOCHS"]):
        for source, decoder_input, decoder_target in ns["batches"]("train", ns["BATCH_SIZE"], rng):
            probability = tf.constant(max_probability * step / total_steps, tf.float32)
            train_step(source, decoder_input, decoder_target, probability)
            step += 1
    return model, time.time() - start


def evaluate(ns, model):
    """Greedy exact match, and teacher-forced and free-running token accuracy, on each of the notebook's EVAL_SPLITS."""
    decode = ns["make_greedy_decoder"](model, ns["START_ID"], ns["END_ID"], ns["MAX_OUTPUT_LENGTH"])
    scores = {}
    for split in ns["EVAL_SPLITS"]:
        tokens = ns["greedy_tokens"](decode, split)
        exposure = ns["exposure_bias"](model, tokens, split)
        scores[split] = {
            "exact match": ns["exact_match"](ns["ids_to_text"](tokens), split),
            "token accuracy, teacher forced": exposure["teacher forced"]["token accuracy"],
            "token accuracy, free running": exposure["free running"]["token accuracy"],
        }
    return scores


def compare_scheduled_sampling(args):
    os.environ["LAB_BUDGET"] = args.budget
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAB_OUTPUT_DIR"] = tmp
        ns = lab4_namespace()
    variants = {"teacher forcing": 0.0, f"scheduled sampling (to {args.max_probability})": args.max_probability}
    print(
        f"budget={args.budget}: {len(ns['source_ids']['train']):,} training pairs, {ns['EPOCHS']} epochs, "
        f"{ns['UNITS']} units; load average before {load_before[0]:.2f}",
        flush=True,
    )
    results = {name: [] for name in variants}
    for seed in args.seeds:
        for name, max_probability in variants.items():
            model, seconds = train_variant(ns, seed, max_probability)
            scores = evaluate(ns, model)
            results[name].append(scores)
            print(
                f"seed {seed}, {name} ({seconds:.0f} s of training): "
                + "; ".join(
                    f"{split} exact {s['exact match']:.4f}, tokens forced {s['token accuracy, teacher forced']:.4f} "
                    f"free {s['token accuracy, free running']:.4f}"
                    for split, s in scores.items()
                ),
                flush=True,
            )
    print(f"over seeds {', '.join(map(str, args.seeds))}: mean (min-max)")
    for name, runs in results.items():
        for split in runs[0]:
            print(
                f"  {name:>32} {split:>6}: "
                + ", ".join(
                    f"{score} {sum(r[split][score] for r in runs) / len(runs):.4f} "
                    f"({min(r[split][score] for r in runs):.4f}-{max(r[split][score] for r in runs):.4f})"
                    for score in runs[0][split]
                )
            )
    load_after = os.getloadavg()
    print(f"load average after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("full", "smoke"), default="full")
    parser.add_argument(
        "--executed", type=Path, help="also write the executed notebook (with its outputs and plots) here"
    )
    parser.add_argument(
        "--scheduled-sampling", action="store_true", help="compare teacher forcing and scheduled sampling instead"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-probability", type=float, default=0.25)
    args = parser.parse_args()
    if args.scheduled_sampling:
        compare_scheduled_sampling(args)
        return
    course = Course.find()
    lab = course.resolve_lab("lab4")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        executed, run = execute_solution(course, lab, cwd=tmp, env={"LAB_BUDGET": args.budget, "LAB_OUTPUT_DIR": tmp})
        if args.executed:
            nbformat.write(executed, args.executed)
        if not run.ok:
            raise SystemExit(f"the notebook failed: {run.failures or [t for t in run.tests if not t.passed]}")
        description = json.loads((Path(tmp) / "lab4" / "normalizer.json").read_text())
    load_after = os.getloadavg()

    print(
        f"budget={args.budget}, trained on {description['trained_on']}; load average (1, 5, 15 min) "
        f"before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    for name, seconds in description["train_seconds"].items():
        print(
            f"  training {name}: {seconds:.1f} s ({description['units'][name]} units, {description['parameters'][name]:,} parameters)"
        )
    exact = description["greedy_exact_match"]
    for name, scores in exact.items():
        print(
            f"  {name:>17}, greedy exact match: " + ", ".join(f"{split} {score:.4f}" for split, score in scores.items())
        )
    for split, scores in description["greedy_exact_match_by_variation"].items():
        print(
            f"  with attention on {split:>6}, by variation: "
            + ", ".join(f"{variation} {score:.4f}" for variation, score in scores.items())
        )
    for split, scores in description["exposure_bias"].items():
        forced, free = scores["teacher forced"], scores["free running"]
        print(
            f"  exposure bias on {split:>6}: token accuracy teacher-forced {forced['token accuracy']:.4f}, free-running {free['token accuracy']:.4f}; "
            f"exact match {forced['exact match']:.4f} and {free['exact match']:.4f}; after the first mistake ({scores['rows with a mistake']} rows) "
            f"{forced['after the first mistake']:.4f} and {free['after the first mistake']:.4f}"
        )
    attention, plain = exact["with attention"], exact["without attention"]
    print(
        f"with attention: test {attention['test']:.4f} (target >= {TARGETS['test']}: {verdict(attention['test'] >= TARGETS['test'])}), "
        f"long {attention['long']:.4f} (target >= {TARGETS['long']}: {verdict(attention['long'] >= TARGETS['long'])})"
    )
    print(
        f"without attention on long: {plain['long']:.4f} against {attention['long']:.4f} with it "
        f"(target: worse, {verdict(plain['long'] < attention['long'])})"
    )
    for split, scores in description["beam_width_3"].items():
        print(
            f"beam search (width 3) on the first {scores['examples']} of {split}: greedy {scores['greedy']:.4f}, beam {scores['beam']:.4f} "
            f"(target: beam >= greedy, {verdict(scores['beam'] >= scores['greedy'])})"
        )
    speedup = description["decoding_speedup_batch_32"]
    print(
        f"compiled greedy decoding at batch 32: {speedup:.1f}x the same decoder run eagerly (target >= {TARGETS['speedup']}x: {verdict(speedup >= TARGETS['speedup'])})"
    )
    print(
        f"whole notebook: {run.seconds:.1f} s (target <= {TARGETS['seconds']} s: {verdict(run.seconds <= TARGETS['seconds'])})"
    )


if __name__ == "__main__":
    main()

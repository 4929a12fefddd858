"""Quality of Lab 2's model trained with the lab's full defaults: validation loss and valid tunes.

By default it runs the solution notebook top to bottom under LAB_BUDGET=full (so the model is trained
exactly as students train it) and then measures the model the notebook saved; --model-dir reuses a
saved model instead. It reports:

* the validation loss on the held-out tunes (each read whole from a fresh state), in nats and bits per character;
* the training time the notebook recorded (and the load average, since other work on the machine inflates it);
* the fraction of valid tunes among --tunes tunes composed from a fresh state at --temperature (1.0), and why the others failed;
* the rhythm (``music.check_rhythm``) of the valid composed tunes beside the held-out corpus tunes': the share of tunes
  with every bar right and the share of bars right, and where the first wrong bar is (longer than the meter or short
  inside a section; which meter; which part of the tune);
* the same for as many tunes composed from the same seed under the rhythm constraint (``rhythm.BarConstraint`` and the
  lab's ``sample_in_time``), and the model's negative log-likelihood per character of the valid tunes of each sampler
  and of the held-out tunes (what the constraint costs);
* with --corpus instead, only the fraction of all corpus tunes that are valid, and their rhythm (music21 parses about 30
  tunes a second); where abc2midi is installed, how often it flags the tunes with a wrong bar, and the others.

Targets: at most 1.0 nats/char, at least 90% valid tunes (of at least 20), training at most 10 minutes;
at least 99% of the corpus tunes valid; under the constraint, at least 95% valid and 90% of the valid tunes with every
bar right (the held-out corpus's rate).

    python benchmarks/lab2_quality.py [--model-dir artifacts/lab2 | --output-dir DIR] [--set NAME=VALUE ...]
        [--windows random|tune-start|header] [--tunes 32] [--seed 7] [--temperature 1.0] [--corpus]

--set NAME=VALUE trains with one of the notebook's settings changed (its test cells judged as the grader judges them):
``--set NUM_LAYERS=2`` for depth, ``--set TRAINING_SEED=1`` for another run of the same settings. --windows trains on
windows aligned to the tunes instead of the lab's random ones (``TuneWindows``): ``tune-start`` (every window starts
where a tune starts, as composing does; with ``--set SEQ_LENGTH=400 --set BATCH_SIZE=16`` a window holds most tunes
whole) or ``header`` (every window is a tune's header and then its body from the start of one of its lines, so the
meter and the unit note length are always in the context).
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import nbformat
import numpy as np
import tensorflow as tf
from lab2_sampling_speed import sample_in_time, sample_next  # the students' exercises, restated there once

from course_utils import music, rhythm, training
from course_utils.sampling import CharSampler, generate_text

LAB = "lab2_music_generation"
MAX_NATS, MIN_VALID, MAX_TRAIN_SECONDS = 1.0, 0.9, 600
MIN_VALID_CONSTRAINED, MIN_RHYTHM_CONSTRAINED = 0.95, 0.9


def with_settings(notebook, settings):
    """A copy of the notebook with each ``NAME = ...`` line named in ``settings`` ({NAME: "VALUE"}) set to the value."""
    nb = nbformat.read(notebook, as_version=4)
    for name, value in settings.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*$", re.MULTILINE)
        cells = [cell for cell in nb.cells if cell.cell_type == "code" and pattern.search(cell.source)]
        if len(cells) != 1:
            raise SystemExit(f"--set {name}: the notebook should assign {name} in exactly one line; found {len(cells)}")
        cells[0].source = pattern.sub(f"{name} = {value}  # set by lab2_quality.py --set", cells[0].source, count=1)
    return nb


class TuneWindows:
    """Training windows aligned to the tunes, in place of the lab's ``get_batch`` (random starts).

    Args:
        kind: ``"tune-start"``: every window starts at a tune's first character (``X:1``), from the zero state, as
            composing does. ``"header"``: every window is a tune's header (its lines up to ``K:``) followed by the
            tune's body from the start of one of its lines (the first line gives the tune's own start).
        tunes: the training tunes, in the order ``music.join_tunes`` joins them into the training text.
        encode: text -> numpy ids (the lab's ``vectorize_string`` with its ``char2idx``).

    A window is drawn uniformly from the starts (tunes, or lines of tunes) and runs on into the next tune where the
    training text does, so every window is ``seq_length`` characters, as the lab's are.
    """

    KINDS = ("tune-start", "header")

    def __init__(self, kind, tunes, encode):
        if kind not in self.KINDS:
            raise ValueError(f"kind should be one of {self.KINDS}, not {kind!r}")
        self.ids = encode(music.join_tunes(tunes))
        self.starts, self.prefixes = [], []  # where the window's text starts, and the ids put before it
        offset = 0
        for tune in tunes:
            header_end = tune.index("\n", tune.index("\nK:") + 1) + 1
            if kind == "tune-start":
                self.starts.append(offset)
                self.prefixes.append(self.ids[:0])
            else:
                header = self.ids[offset : offset + header_end]
                for line_start in [header_end] + [i + 1 for i in range(header_end, len(tune) - 1) if tune[i] == "\n"]:
                    self.starts.append(offset + line_start)
                    self.prefixes.append(header)
            offset += len(tune) + len(music.TUNE_SEPARATOR)

    def get_batch(self, vectorized, seq_length, batch_size, rng):
        """The lab's ``get_batch(vectorized, seq_length, batch_size, rng)``; ``vectorized`` must be the tunes' text."""
        if len(vectorized) != len(self.ids):
            raise ValueError("TuneWindows draws from the tunes it was made with; vectorized is another text")
        x, y = [], []
        while len(x) < batch_size:
            k = rng.integers(len(self.starts))
            prefix, start = self.prefixes[k], self.starts[k]
            window = np.concatenate([prefix, self.ids[start : start + seq_length + 1 - len(prefix)]])
            if len(window) == seq_length + 1:  # not cut short by the end of the text
                x.append(window[:-1])
                y.append(window[1:])
        return np.stack(x), np.stack(y)


def with_windows(nb, kind):
    """The notebook with its training loop drawing ``TuneWindows(kind)`` batches, and the lab's get_batch after it."""
    loops = [
        i for i, cell in enumerate(nb.cells) if "get_batch(train_ids, SEQ_LENGTH, BATCH_SIZE, batch_rng)" in cell.source
    ]
    if len(loops) != 1:
        raise SystemExit(f"--windows: the notebook should draw its training batches in one cell; found {len(loops)}")
    use = f"""# set by lab2_quality.py --windows {kind}
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from lab2_quality import TuneWindows
students_get_batch = get_batch
get_batch = TuneWindows({kind!r}, train_tunes, lambda text: vectorize_string(text, char2idx)).get_batch"""
    nb.cells.insert(loops[0] + 1, nbformat.v4.new_code_cell("get_batch = students_get_batch  # set by lab2_quality.py"))
    nb.cells.insert(loops[0], nbformat.v4.new_code_cell(use))
    return nb


def train_with_the_notebook(output_root, settings, windows="random"):
    from autograde.authoring.solutions import execute_notebook, execute_solution
    from autograde.course import Course
    from autograde.grading.judge import test_sources

    course = Course.find()
    Path(output_root).mkdir(parents=True, exist_ok=True)
    if (Path(output_root) / "lab2" / "checkpoint").exists():  # the notebook would resume it, and time only the rest
        raise SystemExit(f"{output_root} holds a Lab 2 checkpoint from an earlier run: give an empty --output-dir")
    print(
        f"running {LAB} under LAB_BUDGET=full{' with ' + str(settings) if settings else ''}, {windows} windows "
        f"(load average {os.getloadavg()[0]:.2f}) ...",
        flush=True,
    )
    env = {"LAB_BUDGET": "full", "LAB_OUTPUT_DIR": str(output_root)}
    if settings or windows != "random":
        variant = Path(output_root) / f"{LAB}.ipynb"
        nb = with_settings(course.solution_notebook(LAB), settings)
        nbformat.write(nb if windows == "random" else with_windows(nb, windows), variant)
        _, run = execute_notebook(variant, cwd=output_root, env=env, lab=LAB, sources=test_sources(course, LAB))
    else:
        _, run = execute_solution(course, LAB, cwd=output_root, env=env)
    print(
        f"notebook ran in {run.seconds:.0f} s; tests {'pass' if run.ok else 'FAIL: ' + str(run.failures + [t for t in run.tests if not t.passed])}"
    )
    return Path(output_root) / "lab2"


def compose(model, vocab, sampler, args):
    """(tune, its Verdict) for --tunes tunes composed from a fresh state by ``sampler`` from TensorFlow's seed --seed,
    and the seconds composing and judging took."""
    start = time.monotonic()
    tf.random.set_seed(args.seed)
    texts = generate_text(
        model, vocab, "X:1\n", args.length, num_samples=args.tunes, temperature=args.temperature, sampler=sampler
    )
    return music.judge_first_tunes(texts, args.length), time.monotonic() - start


def rhythm_of(tunes, verdicts):
    """(tune, its RhythmVerdict) for each valid tune."""
    return [(t, music.check_rhythm(t, v.score)) for t, v in zip(tunes, verdicts) if v.valid]


def summary(pairs):
    """{"tunes": share of the tunes with every bar right, "bars": share of their bars right, "of": how many tunes}."""
    rhythms = [verdict for _, verdict in pairs]
    bars = sum(r.bars for r in rhythms)
    return {
        "tunes": sum(r.ok for r in rhythms) / max(len(rhythms), 1),
        "bars": 1 - sum(r.wrong_bars for r in rhythms) / max(bars, 1),
        "of": len(rhythms),
        "wrong": collections.Counter(
            r.reason.split(",")[-1].split(":")[-1].split(";")[0].strip() for r in rhythms if not r.ok
        ),
    }


def print_rhythm(name, measured):
    print(
        f"  rhythm of {name}: {measured['tunes']:.1%} of {measured['of']} valid tunes have every bar right; "
        f"{measured['bars']:.2%} of their bars are right; tunes with a wrong bar: {dict(measured['wrong'])}"
    )


def where_wrong(pairs):
    """Of the tunes with a wrong bar: the meters (wrong/all), and which part of the tune (by quarters) the first is in."""
    meters, wrong_meters, parts = collections.Counter(), collections.Counter(), collections.Counter()
    for tune, verdict in pairs:
        meter = next((line for line in tune.splitlines() if line.startswith("M:")), "no M:")
        meters[meter] += 1
        if not verdict.ok and verdict.reason.startswith("bar "):
            wrong_meters[meter] += 1
            first = int(verdict.reason.split()[1])
            parts[
                ("first", "second", "third", "last")[min(3, 4 * (first - 1) // max(verdict.bars, 1))] + " quarter"
            ] += 1
    by_meter = ", ".join(f"{m} {wrong_meters[m]}/{n}" for m, n in meters.most_common())
    print(f"    wrong/all by meter: {by_meter}; first wrong bar in the tune's {dict(parts)}")


def abc2midi_finds_a_wrong_bar(tune, folder):
    """Whether abc2midi, an ABC reader independent of music21, warns that a bar of the tune does not fill its meter.

    abc2midi (abcMIDI, Debian's ``abcmidi``) warns "Bar N has X time units while the time signature has Y" for every
    bar but the first that differs from the meter, pickups and closing bars included, so it warns on well-kept tunes too:
    the benchmark counts its warnings among the tunes check_rhythm passes as well as among those it fails.
    """
    (folder / "tune.abc").write_text(tune + "\n")
    try:
        run = subprocess.run(
            ["abc2midi", "tune.abc", "-o", "tune.mid"], cwd=folder, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False
    return "time units while the time signature has" in run.stdout + run.stderr


def check_corpus():
    tunes, _ = music.load_tunes(music.DEFAULT_COLLECTION)
    start = time.monotonic()
    verdicts = [music.check_tune(t) for t in tunes]
    valid = sum(v.valid for v in verdicts)
    print(
        f"{music.DEFAULT_COLLECTION}: {valid} of {len(verdicts)} corpus tunes valid ({valid / len(verdicts):.2%}; {time.monotonic() - start:.0f} s)"
    )
    for reason, count in collections.Counter(v.reason for v in verdicts if not v.valid).most_common(5):
        print(f"  {count} invalid: {reason}")
    rhythms = rhythm_of(tunes, verdicts)
    print_rhythm("the whole corpus", summary(rhythms))
    if shutil.which("abc2midi") is None:
        print(
            "  (install abc2midi, Debian's abcmidi, to have an independent ABC reader look at the tunes with a wrong bar)"
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        warned = [abc2midi_finds_a_wrong_bar(t, Path(folder)) for t, _ in rhythms]
    for ok, name in ((False, "with a wrong bar"), (True, "the check passes")):
        group = [warns for warns, (_, verdict) in zip(warned, rhythms) if verdict.ok is ok]
        print(f"  abc2midi warns that a bar does not fill its meter in {sum(group)} of the {len(group)} tunes {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="folder with model.keras, vocab.json (and metrics.json) from a full run")
    parser.add_argument(
        "--output-dir", help="where the notebook run saves its model (kept; default: a temporary folder)"
    )
    parser.add_argument("--tunes", type=int, default=32, help="tunes to compose with each sampler (at least 20)")
    parser.add_argument("--length", type=int, default=1000, help="characters generated per tune")
    parser.add_argument("--seed", type=int, default=7, help="TensorFlow's seed before each sampler composes")
    parser.add_argument("--temperature", type=float, default=1.0, help="the temperature both samplers compose at")
    parser.add_argument("--corpus", action="store_true", help="only check that the corpus tunes themselves are valid")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="train with one of the notebook's settings changed (NUM_LAYERS=2, SEQ_LENGTH=200, TRAINING_SEED=1); repeatable",
    )
    parser.add_argument(
        "--windows",
        choices=("random",) + TuneWindows.KINDS,
        default="random",
        help="the training windows: the lab's random starts, or aligned to the tunes (see TuneWindows)",
    )
    args = parser.parse_args()
    if args.tunes < 20:
        parser.error("--tunes should be at least 20")
    if args.corpus:
        check_corpus()
        return
    if any("=" not in setting for setting in args.set):
        parser.error("--set takes NAME=VALUE, e.g. --set NUM_LAYERS=2")
    settings = dict(setting.split("=", 1) for setting in args.set)
    if (settings or args.windows != "random") and args.model_dir:
        parser.error("--set and --windows train a model; --model-dir reuses one")

    with tempfile.TemporaryDirectory() as tmp:
        folder = (
            Path(args.model_dir)
            if args.model_dir
            else train_with_the_notebook(Path(args.output_dir or tmp).resolve(), settings, args.windows)
        )
        model, vocab = training.load_char_model(folder)
        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}

    # The notebook's split: O'Neill's collection, 10% of the tunes held out with seed 0.
    tunes, _ = music.load_tunes("oneills1850")
    _, val_tunes = music.split_tunes(tunes, validation_fraction=0.1, seed=0)
    nats = training.LossEvaluator(model, [vocab.encode(t + music.TUNE_SEPARATOR) for t in val_tunes])()
    print(
        f"validation loss: {nats:.3f} nats/char = {training.bits_per_char(nats):.3f} bits/char on {len(val_tunes)} held-out tunes "
        f"({'meets' if nats <= MAX_NATS else 'MISSES'} the {MAX_NATS} nats/char target)"
    )
    if "train_seconds" in metrics:
        seconds = metrics["train_seconds"]
        print(
            f"training time: {seconds / 60:.1f} min for {metrics.get('steps')} steps, settings {metrics.get('settings')} "
            f"({'within' if seconds <= MAX_TRAIN_SECONDS else 'OVER'} the 10 min target)"
        )

    judged, seconds = compose(model, vocab, CharSampler(model, sample_next), args)
    valid = sum(verdict.valid for _, verdict in judged) / len(judged)
    print(
        f"valid tunes from a fresh state at temperature {args.temperature}: {valid:.0%} of {len(judged)} "
        f"({'meets' if valid >= MIN_VALID else 'MISSES'} the {MIN_VALID:.0%} target; composed and judged in {seconds:.1f} s)"
    )
    for reason, count in collections.Counter(v.reason for _, v in judged if not v.valid).most_common():
        print(f"  {count} invalid: {reason}")
    composed = rhythm_of([t for t, _ in judged], [v for _, v in judged])
    print_rhythm("the composed tunes", summary(composed))
    where_wrong(composed)
    corpus = rhythm_of(val_tunes, [music.check_tune(t) for t in val_tunes])
    print_rhythm("the held-out corpus tunes", summary(corpus))

    # The same model and seed under the rhythm constraint; the model's likelihood of what each sampler composed.
    constraint = rhythm.BarConstraint(vocab.chars)
    constrained, seconds = compose(model, vocab, CharSampler(model, sample_in_time, constraint), args)
    valid_constrained = sum(verdict.valid for _, verdict in constrained) / len(constrained)
    in_time = rhythm_of([t for t, _ in constrained], [v for _, v in constrained])
    measured = summary(in_time)
    print(
        f"under the rhythm constraint (seed {args.seed}): {valid_constrained:.0%} of {len(constrained)} valid "
        f"({'meets' if valid_constrained >= MIN_VALID_CONSTRAINED else 'MISSES'} the {MIN_VALID_CONSTRAINED:.0%} target), "
        f"{measured['tunes']:.1%} of them with every bar right "
        f"({'meets' if measured['tunes'] >= MIN_RHYTHM_CONSTRAINED else 'MISSES'} the {MIN_RHYTHM_CONSTRAINED:.0%} target); "
        f"composed and judged in {seconds:.1f} s; {constraint.dead_ends} steps where the reader found no way to complete the bar"
    )
    for reason, count in collections.Counter(v.reason for _, v in constrained if not v.valid).most_common():
        print(f"  {count} invalid: {reason}")
    print_rhythm("the constrained tunes", measured)
    where_wrong(in_time)
    for name, pairs in (("unconstrained", composed), ("constrained", in_time), ("held-out corpus", corpus)):
        tunes_of = [tune for tune, _ in pairs]
        nats = (
            training.LossEvaluator(model, [vocab.encode(t + music.TUNE_SEPARATOR) for t in tunes_of])()
            if tunes_of
            else None
        )
        print(
            f"  the model's loss on the valid {name} tunes: {nats:.3f} nats/char"
            if nats is not None
            else f"  no valid {name} tune"
        )

    print(f"load average now {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()

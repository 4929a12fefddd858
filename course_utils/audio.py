"""Hearing and seeing a tune: ABC -> MIDI (music21) -> waveform (pretty_midi), WAV files, a piano roll.

Everything is Python: no system packages (abcmidi, timidity, fluidsynth), so it works the same in Colab,
in local Jupyter and headless. pretty_midi's ``synthesize`` adds up one enveloped oscillator per note,
which is plain but enough to hear a melody.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from IPython.display import Audio
    from matplotlib.axes import Axes
    from music21 import stream

SAMPLE_RATE = 22050


def _organ_wave(phase):
    # A sine with two weak overtones: softer than a square wave, less thin than a pure sine.
    return (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)) / 1.4


def parse_valid_tune(tune: str) -> stream.Stream:
    """The music21 score of an ABC tune; ``ValueError`` saying why when the tune is not valid music."""
    from course_utils.music import check_tune, describe

    verdict = check_tune(tune)
    if not verdict.valid:
        raise ValueError(f"cannot play the tune starting {describe(tune)}: {verdict.reason}")
    return verdict.score


def duration_seconds(score: stream.Stream) -> float:
    """How long a music21 score lasts when played, in seconds, from its tempo marks (120 quarters/min by default)."""
    return sum((end - start) * 60.0 / mark.getQuarterBPM() for start, end, mark in score.metronomeMarkBoundaries())


def write_midi(score: stream.Stream, path: str | os.PathLike[str]) -> Path:
    """Writes a music21 score as a MIDI file and returns its path."""
    return Path(score.write("midi", fp=str(path)))


def synthesize(midi_path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The waveform of a MIDI file: float32 array (num_samples,) in [-1, 1], as long as the music."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    audio = midi.synthesize(fs=sample_rate, wave=_organ_wave)
    audio = audio[: int(round(midi.get_end_time() * sample_rate))]  # synthesize pads one silent second
    peak = np.max(np.abs(audio)) if audio.size else 0.0
    return (audio / peak * 0.9 if peak > 0 else audio).astype(np.float32)


def write_wav(audio: np.ndarray, path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> Path:
    """Writes a mono float waveform in [-1, 1] as a 16-bit WAV file and returns its path."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return Path(path)


@dataclass
class RenderedTune:
    """A tune made audible: its MIDI and WAV files, the waveform and its duration in seconds."""

    midi_path: Path
    wav_path: Path
    audio: np.ndarray
    sample_rate: int
    seconds: float

    def player(self) -> Audio:
        """An inline audio player for notebooks (Colab and Jupyter)."""
        from IPython.display import Audio

        return Audio(self.audio, rate=self.sample_rate)


def render_tune(tune: str, folder: str | os.PathLike[str], name: str, sample_rate: int = SAMPLE_RATE) -> RenderedTune:
    """Writes ``folder/name.mid`` and ``folder/name.wav`` for an ABC tune and returns a :class:`RenderedTune`.

    Raises ``ValueError`` with the reason when the tune is not valid music (see ``check_tune``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    score = parse_valid_tune(tune)
    midi_path = write_midi(score, folder / f"{name}.mid")
    audio = synthesize(midi_path, sample_rate)
    wav_path = write_wav(audio, folder / f"{name}.wav", sample_rate)
    return RenderedTune(midi_path, wav_path, audio, sample_rate, len(audio) / sample_rate)


def plot_piano_roll(midi_path: str | os.PathLike[str], ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draws the notes of a MIDI file as a piano roll (time across, pitch up) and returns the axes."""
    import matplotlib.pyplot as plt
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    ax = ax or plt.subplots(figsize=(9, 3))[1]
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    for note in notes:
        ax.broken_barh([(note.start, note.end - note.start)], (note.pitch - 0.4, 0.8), color="tab:blue")
    if notes:
        low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
        ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]  # every C and G
        ax.set_yticks(ticks, [pretty_midi.note_number_to_name(p) for p in ticks])
        ax.set_ylim(low - 1, high + 1)
    ax.set(xlabel="seconds", ylabel="pitch", title=title or "Piano roll")
    return ax

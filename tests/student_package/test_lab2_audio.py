"""Lab 2 audio: ABC -> MIDI -> WAV in Python, not silent and as long as the tune; a piano roll."""

import re
import wave

import matplotlib
import numpy as np
import pytest

from course_utils import audio, music

matplotlib.use("Agg")
TUNE = "X:1\nM:3/4\nL:1/8\nK:D\nd2 fa|b2 a2 f2|e4 d2|A6|]"  # 3 bars of 3/4 after a 2-quarter pickup: 11 quarters


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return audio.render_tune(TUNE, tmp_path_factory.mktemp("audio"), "tune")


def test_wav_is_written_and_not_silent(rendered):
    with wave.open(str(rendered.wav_path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, audio.SAMPLE_RATE)
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2") / 32767
    assert np.sqrt(np.mean(samples**2)) > 0.05
    assert rendered.midi_path.stat().st_size > 0


def test_duration_matches_the_tune(rendered):
    score = music.check_tune(TUNE).score
    expected = audio.duration_seconds(score)
    assert expected == pytest.approx(11 * 0.5)  # 11 quarter notes at music21's default 120 per minute
    assert rendered.seconds == pytest.approx(expected, abs=0.05)


def test_a_corpus_tune_plays_for_its_length(tmp_path):
    tune = music.load_tunes()[0][10]
    rendered = audio.render_tune(tune, tmp_path, "corpus")
    assert rendered.seconds == pytest.approx(audio.duration_seconds(music.check_tune(tune).score), abs=0.05)
    assert np.max(np.abs(rendered.audio)) == pytest.approx(0.9, abs=1e-3)


def test_invalid_tunes_say_why(tmp_path):
    with pytest.raises(ValueError, match=re.escape("cannot play the tune starting '|] z2 |': no notes")):
        audio.render_tune("X:1\nM:4/4\nL:1/8\nK:G\n|] z2 |", tmp_path, "rest")
    with pytest.raises(ValueError, match="music21 could not parse it"):
        audio.render_tune("X:1\nM:4/4\nL:1/8\nK:G\nAB [cd", tmp_path, "broken")
    assert not list(tmp_path.iterdir())


def test_piano_roll_draws_every_note(rendered):
    ax = audio.plot_piano_roll(rendered.midi_path)
    assert len(ax.collections) == 9

"""Energy segmentation on synthetic audio: tones (speech stand-ins) between silences."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.errors import InputError
from facespeech.stages.speech.types import Audio
from facespeech.stages.speech.vad import Segmenter
from numpy.typing import NDArray

RATE = 16_000
SOURCE = Path("long.wav")


def tone(seconds: float, *, amplitude: float = 0.3, hz: float = 440.0) -> NDArray[np.float32]:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def syllables(seconds: float) -> NDArray[np.float32]:
    """A tone whose loudness swings 20 dB three times a second, like running speech."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (tone(seconds) * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def silence(seconds: float, *, noise: float = 0.0) -> NDArray[np.float32]:
    rng = np.random.default_rng(1)
    return (noise * rng.standard_normal(round(seconds * RATE))).astype(np.float32)


def blocks(
    samples: NDArray[np.float32], block_s: float, *, offset_s: float = 0.0
) -> Iterator[Audio]:
    step = round(block_s * RATE)
    for start in range(0, len(samples), step):
        yield Audio(SOURCE, samples[start : start + step], RATE, offset_s + start / RATE)


def spans(segments: list[Audio]) -> list[tuple[float, float]]:
    return [(s.offset_s, s.offset_s + s.duration_s) for s in segments]


def test_bursts_become_padded_segments_with_file_times() -> None:
    # 1 s silence, 3 s tone, 1 s silence, 3 s tone, 1 s silence; max 5 s forces one cut.
    audio = np.concatenate([silence(1), tone(3), silence(1), tone(3), silence(1)])
    segmenter = Segmenter(max_segment_s=5.0, pad_s=0.2)
    segments = list(segmenter(blocks(audio, 0.5)))
    assert spans(segments) == [
        pytest.approx((0.8, 4.2), abs=0.021),
        pytest.approx((4.8, 8.2), abs=0.021),
    ]
    # Each segment's samples are the file's samples at its offset.
    for segment in segments:
        start = round(segment.offset_s * RATE)
        assert np.array_equal(segment.samples, audio[start : start + len(segment.samples)])
        assert segment.source == SOURCE
        assert segment.sample_rate_hz == RATE


def test_offsets_start_from_the_first_block() -> None:
    audio = np.concatenate([silence(1), tone(1), silence(1)])
    (segment,) = Segmenter(pad_s=0.0)(blocks(audio, 1.0, offset_s=60.0))
    assert segment.offset_s == pytest.approx(61.0, abs=0.021)
    assert segment.duration_s == pytest.approx(1.0, abs=0.041)


@pytest.mark.parametrize("block_s", [0.1, 0.77, 4.0, 100.0])
def test_segments_do_not_depend_on_block_size(block_s: float) -> None:
    audio = np.concatenate([silence(0.5), tone(7), silence(0.6), tone(9), silence(2), tone(2)])
    reference = spans(list(Segmenter(max_segment_s=10.0)(blocks(audio, 1.0))))
    assert spans(list(Segmenter(max_segment_s=10.0)(blocks(audio, block_s)))) == reference
    assert len(reference) >= 2


def test_speech_without_pauses_is_cut_at_its_quietest_point() -> None:
    # 25 s of syllables with a 0.15 s dip (too short to be a pause) at 8 s.
    audio = syllables(25)
    dip = slice(round(8.0 * RATE), round(8.15 * RATE))
    audio[dip] *= 0.05
    segments = list(Segmenter(max_segment_s=10.0, min_pause_s=0.3)(blocks(audio, 1.0)))
    assert all(s.duration_s <= 10.0 for s in segments)
    cuts = [s.offset_s for s in segments[1:]]
    assert cuts[0] == pytest.approx(8.075, abs=0.06)
    # Together the segments cover the whole file, in order, without gaps or overlaps.
    assert segments[0].offset_s == 0.0
    for before, after in itertools.pairwise(segments):
        assert after.offset_s == pytest.approx(before.offset_s + before.duration_s, abs=1e-9)
    assert sum(len(s.samples) for s in segments) == len(audio)


def test_silence_steady_noise_and_hum_give_no_segments() -> None:
    assert list(Segmenter()(blocks(silence(30), 1.0))) == []
    assert list(Segmenter()(blocks(silence(30, noise=0.01), 1.0))) == []
    assert list(Segmenter()(blocks(tone(30, hz=50.0), 1.0))) == []


def test_a_tightly_cut_word_is_kept() -> None:
    # 0.3 s of speech and nothing else: too little to tell the background from it.
    (segment,) = Segmenter()(blocks(syllables(0.3), 1.0))
    assert (segment.offset_s, len(segment.samples)) == (0.0, round(0.3 * RATE))
    assert list(Segmenter()(blocks(silence(0.3), 1.0))) == []


def test_quiet_speech_over_noise_is_found() -> None:
    audio = silence(6, noise=0.001)
    audio[round(2 * RATE) : round(4 * RATE)] += tone(2, amplitude=0.02)
    (segment,) = Segmenter(pad_s=0.0)(blocks(audio, 1.0))
    assert segment.offset_s == pytest.approx(2.0, abs=0.021)
    assert segment.duration_s == pytest.approx(2.0, abs=0.041)


def test_speech_over_mains_hum_as_loud_is_found() -> None:
    # 60 Hz hum with its second harmonic, as loud as the syllables laid over it from 4 to 8 s:
    # the whole band's level hardly moves with the syllables, the band above 200 Hz does.
    hum = tone(30, amplitude=0.3, hz=60.0) + tone(30, amplitude=0.1, hz=120.0)
    audio = hum.copy()
    audio[round(4 * RATE) : round(8 * RATE)] += syllables(4)
    (segment,) = Segmenter(pad_s=0.0)(blocks(audio, 1.0))
    assert segment.offset_s == pytest.approx(4.0, abs=0.041)
    assert segment.duration_s == pytest.approx(4.0, abs=0.081)
    assert list(Segmenter(pad_s=0.0, band_low_hz=0.0)(blocks(audio, 1.0))) == []
    assert list(Segmenter()(blocks(hum, 1.0))) == []


def test_a_band_above_nyquist_is_refused() -> None:
    with pytest.raises(ValueError, match="band_low_hz"):
        list(Segmenter(band_low_hz=9000.0)(blocks(tone(1), 1.0)))


def test_one_hour_keeps_a_bounded_buffer() -> None:
    # A lazy hour of 8 s tones and 2 s pauses: segments stream out, none longer than allowed.
    def hour() -> Iterator[Audio]:
        chunk = np.concatenate([tone(8), silence(2)])
        for i in range(360):
            yield Audio(SOURCE, chunk, RATE, i * 10.0)

    count, last = 0, None
    for segment in Segmenter(max_segment_s=15.0, pad_s=0.1)(hour()):
        assert segment.duration_s <= 15.0
        count, last = count + 1, segment
    assert count == 360
    assert last is not None
    assert last.offset_s == pytest.approx(3590.0 - 0.1, abs=0.021)


def test_empty_stream_gives_nothing() -> None:
    assert list(Segmenter()(iter([]))) == []


def test_nan_samples_name_the_file() -> None:
    audio = tone(3)
    audio[100] = np.nan
    with pytest.raises(InputError, match="NaN") as info:
        list(Segmenter()(blocks(audio, 1.0)))
    assert str(info.value).startswith(str(SOURCE))


def test_changing_sample_rate_is_refused() -> None:
    parts = [Audio(SOURCE, tone(1), RATE), Audio(SOURCE, tone(1), 8000, 1.0)]
    with pytest.raises(InputError, match="sample rate"):
        list(Segmenter()(iter(parts)))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("max_segment_s", 0.5),
        ("min_pause_s", 0.0),
        ("pad_s", -1.0),
        ("margin_db", -3.0),
        ("band_low_hz", -1.0),
    ],
)
def test_bad_settings_raise(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=setting):
        Segmenter(**{setting: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("block_s", [0.37, 1.0, 30.0])
def test_a_long_pause_ends_a_segment_a_short_one_does_not(block_s: float) -> None:
    # Sentences of 2.0 and 2.5 s after a 0.9 s pause, then 2 s after a 0.3 s one (a breath),
    # 3 s after 1.2 s of silence; the whole is under max_segment_s.
    parts = [syllables(2.0), silence(0.9), syllables(2.5), silence(0.3), syllables(2.0)]
    audio = np.concatenate([*parts, silence(1.2), syllables(3.0)])
    segmenter = Segmenter(max_segment_s=12.0, end_pause_s=0.7, pad_s=0.1)
    segments = list(segmenter(blocks(audio, block_s)))
    assert spans(segments) == [
        pytest.approx((0.0, 2.1), abs=0.041),
        pytest.approx((2.8, 7.8), abs=0.041),
        pytest.approx((8.8, 11.9), abs=0.041),
    ]
    # Without the rule, the 8.7 s before the last pause stay one segment with the rest.
    assert len(list(Segmenter(max_segment_s=12.0, end_pause_s=None)(blocks(audio, 1.0)))) == 1


def test_end_pause_shorter_than_a_pause_is_refused() -> None:
    with pytest.raises(ValueError, match="end_pause_s"):
        Segmenter(min_pause_s=0.3, end_pause_s=0.2)

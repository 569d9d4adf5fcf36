"""AudioLoader: formats, downmix, resampling accuracy, streaming, bad files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from facespeech.stages.errors import InputError
from facespeech.stages.speech.audio import (
    SAMPLE_RATE,
    AudioLoader,
    Downmix,
    soundfile_duration_s,
)
from numpy.typing import NDArray


def sine(freq_hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> NDArray[np.float32]:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(samples: NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_resampling_keeps_the_frequency(tmp_path: Path) -> None:
    path = tmp_path / "a440.wav"
    sf.write(path, sine(440.0, 44_100, 1.0), 44_100)
    audio = AudioLoader()(path)
    assert audio.sample_rate_hz == SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    assert abs(len(audio.samples) - SAMPLE_RATE) <= 1
    assert peak_hz(audio.samples, SAMPLE_RATE) == pytest.approx(440.0, abs=1.5)
    # Amplitude survives (no gain change in the pass band), edges aside.
    assert np.abs(audio.samples[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    left = sine(300.0, SAMPLE_RATE, 0.5)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, 0.5 * left], axis=1), SAMPLE_RATE)
    audio = AudioLoader()(path)
    assert audio.samples.shape == left.shape
    np.testing.assert_allclose(audio.samples, 0.75 * left, atol=1e-3)


def test_channels_that_cancel_are_read_one_alone(tmp_path: Path) -> None:
    # The right channel wired with its polarity reversed: the mean of the two is silence.
    voice = sine(300.0, SAMPLE_RATE, 2.0) * np.linspace(0.2, 1.0, 2 * SAMPLE_RATE, dtype=np.float32)
    path = tmp_path / "reversed.wav"
    sf.write(path, np.stack([0.8 * voice, -voice], axis=1), SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_allclose(AudioLoader()(path).samples, -voice, atol=1e-6)
    streamed = np.concatenate([b.samples for b in AudioLoader().stream(path, block_s=0.5)])
    np.testing.assert_allclose(streamed, -voice, atol=1e-6)


def test_downmix_keeps_its_channel_for_the_rest_of_the_file() -> None:
    downmix = Downmix()
    tone = sine(200.0, SAMPLE_RATE, 0.1)
    together = np.stack([tone, 0.5 * tone], axis=1)
    np.testing.assert_allclose(downmix(together), 0.75 * tone, atol=1e-6)
    assert downmix.channel is None
    np.testing.assert_allclose(downmix(np.stack([tone, -tone], axis=1)), tone, atol=1e-6)
    assert downmix.channel == 0
    np.testing.assert_allclose(downmix(together), tone, atol=1e-6)
    # Digital silence on both channels decides nothing; nor do many unrelated channels, whose
    # mean is quiet too (a twelfth of their power), but not cancelled.
    fresh = Downmix()
    fresh(np.zeros((1600, 2), dtype=np.float32))
    unrelated = np.random.default_rng(0).standard_normal((1600, 12)).astype(np.float32) * 0.1
    np.testing.assert_allclose(fresh(unrelated), unrelated.mean(axis=1), atol=1e-6)
    assert fresh.channel is None


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_a_format_only_ffmpeg_reads_loads_as_the_same_samples(tmp_path: Path) -> None:
    wav = tmp_path / "mono.wav"
    sf.write(wav, sine(300.0, SAMPLE_RATE, 1.0), SAMPLE_RATE, subtype="FLOAT")
    matroska = tmp_path / "mono.mka"  # a container libsndfile does not read
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "pcm_f32le"]
    subprocess.run([*command, str(matroska)], check=True)
    expected = AudioLoader()(wav).samples
    np.testing.assert_allclose(AudioLoader()(matroska).samples, expected, atol=1e-6)
    streamed = [b.samples for b in AudioLoader().stream(matroska, block_s=0.3)]
    np.testing.assert_allclose(np.concatenate(streamed), expected, atol=1e-6)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffmpeg and ffprobe")
@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_stereo_that_only_ffmpeg_reads_is_mixed_as_soundfile_mixes_it(
    tmp_path: Path, polarity: float
) -> None:
    left = sine(300.0, SAMPLE_RATE, 1.0) * 0.5
    right = polarity * left if polarity < 0 else sine(450.0, SAMPLE_RATE, 1.0) * 0.3
    wav = tmp_path / "stereo.wav"
    sf.write(wav, np.stack([left, right], axis=1), SAMPLE_RATE, subtype="FLOAT")
    matroska = tmp_path / "stereo.mka"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "pcm_f32le"]
    subprocess.run([*command, str(matroska)], check=True)
    expected = AudioLoader()(wav).samples  # the mean, or one channel where they cancel
    assert np.sqrt(np.mean(expected**2)) > 0.1
    np.testing.assert_allclose(AudioLoader()(matroska).samples, expected, atol=1e-6)
    streamed = [b.samples for b in AudioLoader().stream(matroska, block_s=0.3)]
    np.testing.assert_allclose(np.concatenate(streamed), expected, atol=1e-6)


def test_eight_bit_and_six_channels_load(tmp_path: Path) -> None:
    wave = sine(500.0, 8000, 0.5)
    path8 = tmp_path / "u8.wav"
    sf.write(path8, wave, 8000, subtype="PCM_U8")
    audio = AudioLoader()(path8)
    assert len(audio.samples) == SAMPLE_RATE // 2
    assert np.abs(audio.samples).max() == pytest.approx(0.5, abs=0.03)
    path6 = tmp_path / "six.wav"
    sf.write(path6, np.repeat(wave[:, None], 6, axis=1), 8000)
    assert AudioLoader()(path6).samples.shape == (SAMPLE_RATE // 2,)


@pytest.mark.parametrize(
    ("suffix", "fmt", "subtype"),
    [(".ogg", "OGG", "VORBIS"), (".opus", "OGG", "OPUS"), (".mp3", "MP3", "MPEG_LAYER_III")],
)
def test_compressed_formats_load(tmp_path: Path, suffix: str, fmt: str, subtype: str) -> None:
    path = tmp_path / f"tone{suffix}"
    try:
        sf.write(path, sine(440.0, 48_000, 1.0), 48_000, format=fmt, subtype=subtype)
    except sf.LibsndfileError as exc:
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}: {exc}")
    audio = AudioLoader()(path)
    assert abs(len(audio.samples) - SAMPLE_RATE) < 0.1 * SAMPLE_RATE  # codecs pad a little
    assert peak_hz(audio.samples, SAMPLE_RATE) == pytest.approx(440.0, abs=2.0)


def test_stream_blocks_match_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, sine(440.0, 22_050, 3.5), 22_050)
    loader = AudioLoader()
    blocks = list(loader.stream(path, block_s=1.0))
    assert len(blocks) == 4
    # Each block starts where the previous ones end (the resampler's delay shortens the first).
    starts = np.cumsum([0] + [len(b.samples) for b in blocks[:-1]]) / SAMPLE_RATE
    np.testing.assert_allclose([b.offset_s for b in blocks], starts)
    assert blocks[-1].offset_s == pytest.approx(3.0, abs=0.05)
    joined = np.concatenate([b.samples for b in blocks])
    whole = loader(path).samples
    assert abs(len(joined) - len(whole)) <= 2
    n = min(len(joined), len(whole))
    np.testing.assert_allclose(joined[:n], whole[:n], atol=2e-3)


def test_stream_at_native_rate_is_exact(tmp_path: Path) -> None:
    wave = sine(440.0, SAMPLE_RATE, 2.5)
    path = tmp_path / "native.wav"
    sf.write(path, wave, SAMPLE_RATE, subtype="FLOAT")
    blocks = list(AudioLoader().stream(path, block_s=1.0))
    assert [len(b.samples) for b in blocks] == [16_000, 16_000, 8_000]
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), wave)


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(InputError, match="empty") as info:
        AudioLoader()(path)
    assert info.value.path == path
    with pytest.raises(InputError, match="empty"):
        list(AudioLoader().stream(path))


def test_nan_samples_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    wave = sine(440.0, SAMPLE_RATE, 0.2)
    wave[100] = np.nan
    sf.write(path, wave, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(InputError, match="NaN") as info:
        AudioLoader()(path)
    assert str(path) in str(info.value)


@pytest.mark.skipif(shutil.which("ffmpeg") is not None, reason="ffmpeg is installed")
@pytest.mark.parametrize("name", ["corrupt.wav", "clip.mp4"])
def test_unreadable_file_names_the_file_and_ffmpeg(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(InputError, match="needs ffmpeg") as info:
        AudioLoader()(path)
    assert info.value.path == path


def test_truncated_flac_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    sf.write(path, sine(440.0, SAMPLE_RATE, 1.0), SAMPLE_RATE)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError) as info:
        AudioLoader()(path)
    assert info.value.path == path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        AudioLoader()(tmp_path / "absent.wav")


def test_missing_file_streamed(tmp_path: Path) -> None:
    # transcribe streams files: a missing one must say so, not blame the decoder
    with pytest.raises(InputError, match="no such file") as info:
        next(AudioLoader().stream(tmp_path / "absent.flac"))
    assert info.value.path == tmp_path / "absent.flac"


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="sample_rate_hz"):
        AudioLoader(sample_rate_hz=0)
    with pytest.raises(ValueError, match="block_s"):
        next(AudioLoader().stream("x.wav", block_s=0))


def test_shared_opus_clip_loads(speech_data: Path) -> None:
    path = speech_data / "fsdd" / "audio" / "train" / "george" / "0_george_5.opus"
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    audio = AudioLoader()(path)
    assert audio.sample_rate_hz == SAMPLE_RATE
    assert 0.2 < audio.duration_s < 2.0
    assert np.abs(audio.samples).max() <= 1.0


def test_corrupt_mp3_prints_nothing_itself(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # libmpg123 writes "Note: Illegal Audio-MPEG-Header" lines to the C stderr for junk;
    # the caller reports the InputError in one line, so the loader itself must stay quiet
    path = tmp_path / "junk.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for read in (AudioLoader(), lambda p: next(AudioLoader().stream(p))):
        with pytest.raises(InputError) as info:
            read(path)
        assert info.value.path == path
    assert soundfile_duration_s(path) is None  # what the progress bar asks first
    captured = capfd.readouterr()
    assert "MPEG" not in captured.err
    assert "Note:" not in captured.err


def test_a_file_libsndfile_cannot_seek_streams_whole(tmp_path: Path) -> None:
    gsm = tmp_path / "voicemail.wav"  # GSM 6.10 in WAV: libsndfile reads it, but not seekably
    sf.write(gsm, sine(440.0, 8000, 2.0) * 0.5, 8000, format="WAV", subtype="GSM610")
    assert not sf.SoundFile(gsm).seekable()
    whole = AudioLoader()(gsm).samples
    streamed = [b.samples for b in AudioLoader().stream(gsm, block_s=0.3)]
    assert len(streamed) > 1
    np.testing.assert_allclose(np.concatenate(streamed), whole, atol=1e-4)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_float_w64_in_the_extensible_format_reads_as_its_samples(tmp_path: Path) -> None:
    wav = tmp_path / "voice.wav"
    sf.write(wav, sine(300.0, SAMPLE_RATE, 1.0) * 0.5, SAMPLE_RATE, subtype="FLOAT")
    w64 = tmp_path / "voice.w64"  # ffmpeg writes float W64 as WAVE_FORMAT_EXTENSIBLE
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "pcm_f32le"]
    subprocess.run([*command, str(w64)], check=True)
    assert sf.info(w64).subtype == "PCM_32"  # libsndfile's reading of it: integers, noise
    expected = AudioLoader()(wav).samples
    np.testing.assert_allclose(AudioLoader()(w64).samples, expected, atol=1e-6)
    streamed = [b.samples for b in AudioLoader().stream(w64, block_s=0.3)]
    np.testing.assert_allclose(np.concatenate(streamed), expected, atol=1e-6)
    plain = tmp_path / "plain.w64"  # libsndfile's own float W64 (format tag 3) stays its own
    sf.write(plain, expected, SAMPLE_RATE, format="W64", subtype="FLOAT")
    np.testing.assert_allclose(AudioLoader()(plain).samples, expected, atol=1e-6)

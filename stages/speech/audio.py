"""Sampling: read an audio (or video) file as a mono ``float32`` waveform at 16 kHz.

WAV, FLAC, OGG/Vorbis, Opus and MP3 are read by libsndfile (through ``soundfile``); other
formats, and the sound track of videos, through an ``ffmpeg`` subprocess when ffmpeg is on
``PATH``. Channels are averaged (by :class:`Downmix`, which reads one channel alone where they
cancel; ffmpeg mixes down its files of more than two channels by their layout); the rate is
converted with soxr (high quality). Long files are read block by block with
:meth:`AudioLoader.stream`, so memory stays flat.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from facespeech.stages.errors import InputError
from facespeech.stages.media import is_video_path
from facespeech.stages.speech.types import Audio
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Hz: what the spectrogram and the recognizer expect
STREAM_BLOCK_S = 30.0  # seconds per block of AudioLoader.stream
RESAMPLE_QUALITY = "HQ"  # soxr quality: "HQ" keeps the pass band flat to 0.95 * Nyquist
FFMPEG_BYTES_PER_SAMPLE = 4  # ffmpeg writes float32 little-endian ("-f f32le")
# Channels cancel each other when their mean has less than this share of the power it would
# have if they were unrelated (their mean power / n_channels): one was wired or recorded with
# its polarity reversed, and the mean (what ffmpeg, librosa and Whisper take) is near silence,
# so the whole file transcribed to nothing. Files ffmpeg reads are asked for their channel count
# first (ffprobe): a stereo one is decoded as two channels for Downmix; any other is mixed to
# mono by ffmpeg (asking for two channels of every file would upmix a mono one, 3 dB down, and a
# 5.1 soundtrack's layout-aware mixdown, its dialogue in the centre channel, beats a plain mean).
CANCELLED_POWER_RATIO = 0.1
AUDIBLE_POWER = 1e-8  # -80 dBFS: quieter blocks decide nothing about the channels
FFMPEG_TIMEOUT_S = 3600.0
FFPROBE_TIMEOUT_S = 60.0
NEEDS_FFMPEG = "reading other formats needs ffmpeg, which is not installed"
# What a folder given to `speechpipe transcribe` is walked for; files named one by one are
# tried whatever their suffix. Videos are read for their sound track (ffmpeg).
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".aif", ".aiff"}
    | {".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".amr", ".mka", ".spx"}
    | {".mp2", ".ac3", ".wv", ".ape", ".m4b"}  # broadcast, DVD, lossless, audiobooks (ffmpeg)
)


def is_media_path(path: Path) -> bool:
    """True for the files a folder is walked for: audio, and videos (their sound track)."""
    suffix = path.suffix.lower()
    return suffix in AUDIO_SUFFIXES or is_video_path(path)


def _not_decodable(path: Path) -> str | None:
    """Why ``path`` cannot be audio before any decoder looks at it, or None."""
    if path.is_dir():
        return "a folder, not an audio file"
    if not path.is_file():
        return "no such file"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    return None


_STDERR_LOCK = threading.Lock()


@contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while libsndfile opens a file.

    Its MP3 decoder (libmpg123) prints "Note: Illegal Audio-MPEG-Header ..." lines straight to
    the C stderr for a corrupt file; the user should get our one line naming the file instead.
    The lock keeps two threads from saving each other's redirection as the real stderr.
    """
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to protect
            yield
            return
        try:
            sys.stderr.flush()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# Sony Wave64: the RIFF and 'fmt ' chunk GUIDs, and WAVE_FORMAT_EXTENSIBLE's float sub-format.
W64_RIFF_GUID = bytes.fromhex("726966662e91cf11a5d628db04c10000")
W64_FMT_GUID = bytes.fromhex("666d7420f3acd3118cd100c04f8edb8a")
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
WAVE_FORMAT_IEEE_FLOAT = 0x0003
W64_MISREAD = "float samples in W64's extensible format, which libsndfile reads as integers"


def _libsndfile_misreads(path: Path, container: str, subtype: str) -> bool:
    """True for a W64 file of float samples in the extensible format (as ffmpeg writes it):
    libsndfile (which read ``path`` as ``container`` and ``subtype``) takes its samples for
    32-bit integers, loud noise, so ffmpeg reads it instead. Only that reading sends the
    header to be parsed."""
    if (container, subtype) != ("W64", "PCM_32"):
        return False
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False  # libsndfile's open then says why
    if not head.startswith(W64_RIFF_GUID):
        return False
    offset = 40  # after the RIFF GUID, the file size and the WAVE GUID
    while offset + 24 + 40 <= len(head):
        guid, size = (
            head[offset : offset + 16],
            int.from_bytes(head[offset + 16 : offset + 24], "little"),
        )
        if guid == W64_FMT_GUID:
            fmt = head[offset + 24 :]
            tag = int.from_bytes(fmt[0:2], "little")
            sub_format = int.from_bytes(fmt[24:26], "little")
            return tag == WAVE_FORMAT_EXTENSIBLE and sub_format == WAVE_FORMAT_IEEE_FLOAT
        if size < 24:
            return False
        offset += (size + 7) // 8 * 8  # chunks are padded to 8 bytes
    return False


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def _ffmpeg_channels(path: Path) -> int:
    """How many channels ffmpeg will decode from ``path``: 2 for a stereo sound track, else 1
    (ffmpeg mixes the others down). The stream is the one ffmpeg picks by itself (``-i`` with
    no map: the audio stream of most channels), so ffprobe is asked for every audio stream."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return 1
    command = [
        *(ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=channels"),
        *("-of", "csv=p=0", str(path)),
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=FFPROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 1  # ffmpeg itself then says what is wrong with the file
    counts = [int(field) for field in done.stdout.split() if field.isdigit()]
    return 2 if counts and max(counts) == 2 else 1


def _ffmpeg_command(path: Path, sample_rate_hz: int, channels: int) -> list[str]:
    return [
        *(str(_ffmpeg()), "-nostdin", "-v", "error", "-i", str(path)),
        *("-vn", "-ac", str(channels), "-ar", str(sample_rate_hz), "-f", "f32le", "-"),
    ]


def _ffmpeg_samples(data: bytes, channels: int) -> NDArray[np.float32]:
    """ffmpeg's interleaved float32 output -> ``(n_samples, channels)``."""
    frame_bytes = FFMPEG_BYTES_PER_SAMPLE * channels
    usable = len(data) - len(data) % frame_bytes
    return np.frombuffer(data[:usable], dtype="<f4").astype(np.float32).reshape(-1, channels)


class Downmix:
    """Multichannel blocks of one file, in order -> mono: the channels' mean, or, once a block
    shows the channels cancelling in their mean (``CANCELLED_POWER_RATIO``), the loudest
    channel of that block for the rest of the file.

    ``block`` ``float32 (n_samples, n_channels)`` -> ``float32 (n_samples,)``.
    """

    def __init__(self) -> None:
        self.channel: int | None = None  # the channel kept once the channels cancelled

    def __call__(
        self, block: NDArray[np.float32], source: Path | None = None
    ) -> NDArray[np.float32]:
        if block.shape[1] == 1:
            return np.ascontiguousarray(block[:, 0])
        if self.channel is not None:
            return np.ascontiguousarray(block[:, self.channel])
        mono: NDArray[np.float32] = block.mean(axis=1, dtype=np.float32)
        channel_power = np.mean(np.square(block, dtype=np.float64), axis=0)  # (n_channels,)
        mean_power = float(np.mean(np.square(mono, dtype=np.float64)))
        audible = float(channel_power.max()) > AUDIBLE_POWER
        unrelated_power = float(channel_power.mean()) / block.shape[1]
        if audible and mean_power < CANCELLED_POWER_RATIO * unrelated_power:
            self.channel = int(np.argmax(channel_power))
            log.info(
                "%s: the channels cancel each other (one has its polarity reversed); "
                "reading channel %d alone",
                source or "audio",
                self.channel + 1,
            )
            return np.ascontiguousarray(block[:, self.channel])
        return mono


def soundfile_duration_s(path: Path | str) -> float | None:
    """Seconds of audio in ``path`` as libsndfile reports them from the header, or None where
    it cannot read the file (other formats, corrupt files; nothing is printed)."""
    try:
        with _c_stderr_silenced():
            return float(sf.info(str(path)).duration)
    except (sf.LibsndfileError, OSError, RuntimeError):
        return None


class AudioLoader:
    """File path -> :class:`Audio`: ``float32 (n_samples,)`` in [-1, 1], mono, at
    ``sample_rate_hz`` (default 16 kHz).

    Raises :class:`InputError` naming the file for a missing, empty, corrupt or non-audio file,
    for samples that are NaN or infinite, and for formats libsndfile does not read when ffmpeg is
    not installed ("needs ffmpeg"). Integer files of any width (8-bit too) are scaled to
    [-1, 1]; float files are clipped to it.
    """

    def __init__(self, *, sample_rate_hz: int = SAMPLE_RATE) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        self.sample_rate_hz = sample_rate_hz

    def __call__(self, path: Path | str) -> Audio:
        """Read the whole file (use :meth:`stream` for long ones)."""
        path = Path(path)
        return Audio(
            source=path,
            samples=self._checked(path, self._read_whole(path)),
            sample_rate_hz=self.sample_rate_hz,
        )

    def _read_whole(self, path: Path) -> NDArray[np.float32]:
        try:
            with _c_stderr_silenced(), sf.SoundFile(path) as f:
                if _libsndfile_misreads(path, f.format, f.subtype):
                    return self._read_with_ffmpeg(path, ValueError(W64_MISREAD))
                # The header's frame count, as sf.read asks: a file that cannot seek (GSM 6.10
                # WAV) refuses a read of "all the rest".
                data = f.read(f.frames, dtype="float32", always_2d=True)
                rate = f.samplerate
        except sf.LibsndfileError as exc:
            return self._read_with_ffmpeg(path, exc)
        except (OSError, RuntimeError) as exc:
            raise InputError(path, f"cannot read: {exc}") from exc
        return self._to_mono_rate(path, data, rate)

    def stream(self, path: Path | str, *, block_s: float = STREAM_BLOCK_S) -> Iterator[Audio]:
        """Read the file in consecutive blocks of about ``block_s`` seconds.

        Each :class:`Audio` holds one block (the last may be shorter) with ``offset_s``, its start
        in seconds from the beginning of the file. Blocks join without gaps: resampling state is
        carried across them.
        """
        if block_s <= 0:
            raise ValueError(f"block_s must be positive, got {block_s}")
        path = Path(path)
        try:
            with _c_stderr_silenced():
                info = sf.info(str(path))
        except sf.LibsndfileError as exc:
            yield from self._stream_with_ffmpeg(path, block_s, exc)
            return
        except (OSError, RuntimeError) as exc:
            raise InputError(path, f"cannot read: {exc}") from exc
        if _libsndfile_misreads(path, info.format, info.subtype):
            yield from self._stream_with_ffmpeg(path, block_s, ValueError(W64_MISREAD))
            return
        yield from self._stream_with_soundfile(path, info.samplerate, block_s)

    def _stream_with_soundfile(self, path: Path, rate: int, block_s: float) -> Iterator[Audio]:
        resampler = soxr.ResampleStream(
            rate, self.sample_rate_hz, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )
        emitted = 0
        downmix = Downmix()
        block_frames = max(1, round(block_s * rate))
        try:
            with sf.SoundFile(path) as f:
                # Read one block ahead to know the last (what the resampler must flush), not
                # from the frame count: GSM 6.10 WAV, for one, is not seekable in libsndfile
                # (SoundFile.blocks refuses it), and a truncated file's count is too high.
                block = f.read(block_frames, dtype="float32", always_2d=True)
                while len(block):
                    following = f.read(block_frames, dtype="float32", always_2d=True)
                    mono = downmix(block, path)
                    samples = (
                        mono
                        if rate == self.sample_rate_hz
                        else resampler.resample_chunk(mono, last=len(following) == 0)
                    )
                    yield self._block(path, samples, emitted)
                    emitted += len(samples)
                    block = following
        except (sf.LibsndfileError, OSError, RuntimeError) as exc:
            raise InputError(path, f"cannot read: {exc}") from exc
        if emitted == 0:
            raise InputError(path, "no audio samples (empty file)")

    def _stream_with_ffmpeg(self, path: Path, block_s: float, cause: Exception) -> Iterator[Audio]:
        if (reason := _not_decodable(path)) is not None:
            raise InputError(path, reason) from cause
        if _ffmpeg() is None:
            raise InputError(
                path,
                f"not a WAV/FLAC/OGG/Opus/MP3 file ({cause}); {NEEDS_FFMPEG}",
            ) from cause
        channels = _ffmpeg_channels(path)
        block_samples = max(1, round(block_s * self.sample_rate_hz))
        block_bytes = block_samples * FFMPEG_BYTES_PER_SAMPLE * channels
        emitted = 0
        downmix = Downmix()
        command = _ffmpeg_command(path, self.sample_rate_hz, channels)
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            while chunk := proc.stdout.read(block_bytes):
                samples = downmix(_ffmpeg_samples(chunk, channels), path)
                yield self._block(path, samples, emitted)
                emitted += len(samples)
            error = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0:
                reason = (error.splitlines() or ["no reason given"])[-1]
                raise InputError(path, f"not an audio or video file ffmpeg can decode: {reason}")
        if emitted == 0:
            raise InputError(path, "no audio samples (empty file)")

    def _block(self, path: Path, samples: NDArray[np.float32], emitted: int) -> Audio:
        if not np.isfinite(samples).all():
            raise InputError(path, "samples are NaN or infinite")
        return Audio(
            source=path,
            samples=np.clip(samples, -1.0, 1.0),
            sample_rate_hz=self.sample_rate_hz,
            offset_s=emitted / self.sample_rate_hz,
        )

    def _read_with_ffmpeg(self, path: Path, cause: Exception) -> NDArray[np.float32]:
        if (reason := _not_decodable(path)) is not None:
            raise InputError(path, reason) from cause
        if _ffmpeg() is None:
            raise InputError(
                path,
                f"not a WAV/FLAC/OGG/Opus/MP3 file ({cause}); {NEEDS_FFMPEG}",
            ) from cause
        log.debug("%s: libsndfile cannot read it (%s); trying ffmpeg", path, cause)
        channels = _ffmpeg_channels(path)
        try:
            done = subprocess.run(
                _ffmpeg_command(path, self.sample_rate_hz, channels),
                capture_output=True,
                check=False,
                timeout=FFMPEG_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(path, f"ffmpeg failed: {exc}") from exc
        if done.returncode != 0:
            last_line = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [
                "no reason given"
            ]
            raise InputError(
                path, f"not an audio or video file ffmpeg can decode: {last_line[0]}"
            ) from cause
        return Downmix()(_ffmpeg_samples(done.stdout, channels), path)

    def _to_mono_rate(
        self, path: Path, data: NDArray[np.float32], rate: int
    ) -> NDArray[np.float32]:
        if data.size == 0:
            raise InputError(path, "no audio samples (empty file)")
        mono = Downmix()(data, path)  # (n_samples,)
        if not np.isfinite(mono).all():
            raise InputError(path, "samples are NaN or infinite")
        if rate == self.sample_rate_hz:
            return mono
        return np.asarray(
            soxr.resample(mono, rate, self.sample_rate_hz, quality=RESAMPLE_QUALITY),
            dtype=np.float32,
        )

    @staticmethod
    def _checked(path: Path, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        if samples.size == 0:
            raise InputError(path, "no audio samples (empty file)")
        if not np.isfinite(samples).all():
            raise InputError(path, "samples are NaN or infinite")
        return np.clip(samples, -1.0, 1.0)

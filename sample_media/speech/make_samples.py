"""Synthesise the demo clips in this folder with espeak-ng (run from anywhere).

    python sample_media/speech/make_samples.py        # needs `espeak-ng` on PATH

Each clip is ``espeak-ng -v en-us -s 150 --stdout TEXT`` (22,050 Hz), resampled to 16 kHz
mono with soxr and written as 16-bit PCM WAV. ``silence.wav`` is 1 s of zeros. The texts in
``CLIPS`` are the expected transcripts (also listed in README.md and ``manifest.tsv``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

SAMPLE_RATE_HZ = 16_000
SILENCE_S = 1.0
VOICE = "en-us"
WORDS_PER_MINUTE = 150
OUT_DIR = Path(__file__).resolve().parent

CLIPS: dict[str, str] = {
    "hello_world.wav": "hello world",
    "digits.wav": "three one four one five",
    "fox.wav": "the quick brown fox jumps over the lazy dog",
    "weather.wav": "it will be sunny and warm tomorrow afternoon",
}


def synthesise(text: str) -> NDArray[np.float32]:
    """espeak-ng's WAV for ``text`` -> float32 ``(n_samples,)`` at 16 kHz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    samples, rate_hz = sf.read(io.BytesIO(wav), dtype="float32")
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    resampled: NDArray[np.float32] = soxr.resample(
        samples, rate_hz, SAMPLE_RATE_HZ, quality="HQ"
    ).astype(np.float32)
    return resampled


def main() -> int:
    if shutil.which("espeak-ng") is None:
        print("make_samples: espeak-ng not found (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    rows = ["path\ttranscript"]
    for name, text in CLIPS.items():
        sf.write(OUT_DIR / name, synthesise(text), SAMPLE_RATE_HZ, subtype="PCM_16")
        rows.append(f"{name}\t{text}")
    silence = np.zeros(int(SILENCE_S * SAMPLE_RATE_HZ), dtype=np.float32)
    sf.write(OUT_DIR / "silence.wav", silence, SAMPLE_RATE_HZ, subtype="PCM_16")
    rows.append("silence.wav\t")
    (OUT_DIR / "manifest.tsv").write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

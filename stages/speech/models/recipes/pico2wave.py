"""pico2wave's command line over PyPI's ttspico (SVOX Pico): ``pico2wave -w WAV -l LANG TEXT``.

Debian ships pico2wave in non-free (libttspico-utils), which this workplace's apt sources do
not reach; ``make_pico_bundle.sh`` installs ttspico (the same engine and lingware, Apache-2.0,
from the Android Open Source Project) in a venv of its own and puts this program in front of
it, so that ``speechpipe synth --voices pico-us,pico-gb --tts-prefix PREFIX`` runs it as it
would Debian's. Writes 16 kHz mono 16-bit WAV; the text may carry Pico's markup
(``<speed level='90'>``, ``<pitch level='110'>``).
"""

import argparse
import wave

import ttspico  # type: ignore[import-not-found]  # only in make_pico_bundle.sh's venv

RATE_HZ = 16_000  # Pico's output rate

parser = argparse.ArgumentParser(prog="pico2wave")
parser.add_argument("-w", "--wave", required=True, help="output WAV file")
parser.add_argument(
    "-l", "--lang", default="en-US", help="en-US, en-GB, de-DE, es-ES, fr-FR, it-IT"
)
parser.add_argument("text")
args = parser.parse_args()
pcm = ttspico.TtsEngine(args.lang).speak(args.text) or b""
with wave.open(args.wave, "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(RATE_HZ)
    out.writeframes(pcm)

#!/bin/bash
# SVOX Pico's English voices (pico-us, pico-gb: two women's voices) for `speechpipe synth
# --tts-prefix PREFIX`: PyPI's ttspico (the Android Open Source Project's Pico engine and its
# lingware, Apache-2.0; a source distribution, so this needs gcc and the Python headers) in a
# venv at PREFIX/pico-venv, and PREFIX/bin/pico2wave (pico2wave.py beside this script) in front
# of it, with the command line of Debian's pico2wave (non-free, out of this workplace's reach).
# Usage: make_pico_bundle.sh PREFIX [PYTHON]   (PYTHON: default python3)
# The prefix can be the one make_tts_bundle.sh's tts.tar.xz unpacks to: pico2wave joins its bin/.
set -euo pipefail
PREFIX=$(realpath -m "${1:?usage: make_pico_bundle.sh PREFIX [PYTHON]}")
PYTHON=${2:-python3}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$PREFIX/bin"
"$PYTHON" -m venv "$PREFIX/pico-venv"
"$PREFIX/pico-venv/bin/pip" install --quiet ttspico==0.3.2
{
    echo "#!$PREFIX/pico-venv/bin/python"
    cat "$HERE/pico2wave.py"
} > "$PREFIX/bin/pico2wave.part"
chmod 755 "$PREFIX/bin/pico2wave.part"
mv "$PREFIX/bin/pico2wave.part" "$PREFIX/bin/pico2wave"
"$PREFIX/bin/pico2wave" -w "$PREFIX/pico-check.wav" -l en-US "pico is ready"
rm "$PREFIX/pico-check.wav"
echo "pico2wave in $PREFIX/bin"

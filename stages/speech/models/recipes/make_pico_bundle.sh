#!/bin/bash
# SVOX Pico's two English voices (pico-us, pico-gb: both women's) for `speechpipe synth
# --voices pico-us,pico-gb --tts-prefix /tmp/tts`: the Android Open Source Project's Pico engine
# and lingware (Apache-2.0), taken from PyPI's ttspico 0.3.2 source distribution (checked by its
# SHA-256), compiled with pico2wave.c beside this script into one program that needs only libc
# and libm, packed as DEST_DIR/pico.tar.xz (top folder tts/, like make_tts_bundle.sh's
# tts.tar.xz, so they unpack into one prefix): tts/bin/pico2wave and tts/share/pico/lang/ with
# the en-US and en-GB lingware (2.4 MB). Debian's own pico2wave is in non-free, out of reach of
# this workplace's apt sources; this one has its command line (-w WAV -l LANG TEXT) and, for the
# same text, writes the same samples as ttspico's Python module.
# Usage: make_pico_bundle.sh [DEST_DIR] [SDIST]   (default .device-carry/tts; SDIST: a local
# ttspico-0.3.2.tar.gz, else pip downloads it). Needs gcc, strip, xz.
# For this machine: tar xJf DEST_DIR/pico.tar.xz -C PARENT, then --tts-prefix PARENT/tts.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=$(realpath -m "${1:-.device-carry/tts}")  # where pico.tar.xz goes (git-ignored)
SDIST=${2:+$(realpath "$2")}
SHA256=743a280a8ced8523583665cb45797d730aceb2e145a04a212f82ebb0b5fac6c8  # ttspico-0.3.2.tar.gz
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
if [ -z "$SDIST" ]; then
    python3 -m pip download -q --no-deps --no-binary :all: -d . ttspico==0.3.2
    SDIST=$WORK/ttspico-0.3.2.tar.gz
fi
echo "$SHA256  $SDIST" | sha256sum -c --quiet
tar xzf "$SDIST"
S=ttspico-0.3.2/picopi/pico
T=tts
mkdir -p $T/bin $T/share/pico/lang
# -w: the 2009 engine's sources warn a lot under a 2020s gcc; none of it is ours to fix.
gcc -O2 -w -I$S/tts -I$S/lib -o $T/bin/pico2wave "$HERE/pico2wave.c" $S/tts/tts_engine.c \
    $S/tts/langfiles.c $S/lib/*.c -lm
strip $T/bin/pico2wave
cp $S/lang/en-US_ta.bin $S/lang/en-US_lh0_sg.bin $S/lang/en-GB_ta.bin $S/lang/en-GB_kh0_sg.bin \
    $T/share/pico/lang/
for lang in en-US en-GB; do
    $T/bin/pico2wave -w check.wav -l $lang "pico is ready"
    [ "$(stat -c %s check.wav)" -gt 10000 ] || { echo "pico2wave wrote no $lang speech"; exit 1; }
done
tar cJf "$DEST/pico.tar.xz.part" $T
mv "$DEST/pico.tar.xz.part" "$DEST/pico.tar.xz"
echo "$DEST/pico.tar.xz: $(du -h "$DEST/pico.tar.xz" | cut -f1)"

#!/bin/bash
# festival + kal_diphone for `speechpipe synth --tts-prefix /tmp/tts` on a machine with nothing
# installed: Debian bookworm's packages (apt-get download, dpkg -x; never installed), cut down to
# what synthesis to a file reads, packed as .device-carry/tts/festival.tar.xz (top folder tts/,
# so `tar xJf festival.tar.xz -C /tmp` merges it with tts.tar.xz's espeak-ng and flite).
# Usage: make_festival_bundle.sh [DEST_DIR]   (default .device-carry/tts)
#
# Kept: bin/festival; lib/ libestools, libestbase, libeststring (libestools2.5), libgomp.so.1,
# libasound.so.2 (both absent from a bare image), a stub libpulse-simple.so.0; share/festival/
# with festival's Scheme library (*.scm, languages/, multisyn/, the small n-gram files), the CMU
# lexicon and letter-to-sound rules (festlex-cmu), the POS lexicon (festlex-poslex) and
# voices/english/kal_diphone and ked_diphone (festvox-kallpc16k, festvox-kdlpc16k).
# Cut: text2wave (a festival --script, which ignores --datadir: speech_synth runs festival -b),
# festival_client, lib/festival/audsp (audio spooler), /etc, sgml/, emacs/, doc/, man/.
# The stub stands in for PulseAudio's libpulse-simple (libestbase links it for playback only;
# the real one pulls in libpulse, dbus, X11, systemd ...): its four functions fail.
# Binaries and libraries are stripped. Needs apt-get, dpkg, gcc, strip, xz.
set -euo pipefail
DEST=$(realpath -m "${1:-.device-carry/tts}")  # where festival.tar.xz goes (git-ignored)
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir debs root
(cd debs && apt-get download festival libestools2.5 festlex-cmu festlex-poslex \
    festvox-kallpc16k festvox-kdlpc16k libgomp1 libasound2)
for deb in debs/*.deb; do dpkg -x "$deb" root; done

U=root/usr
T=tts
mkdir -p $T/bin $T/lib $T/share
cp $U/bin/festival $T/bin/
for lib in libestools.so.2.5 libestbase.so.2.5 libeststring.so.2.5 libgomp.so.1 libasound.so.2; do
    cp -L $U/lib/x86_64-linux-gnu/$lib $T/lib/$lib
done
cp -r $U/share/festival $T/share/

cat > pulse_stub.c <<'EOF'
/* Stand-in for libpulse-simple.so.0: festival links it for playback only. */
#include <stddef.h>
void *pa_simple_new(const void *server, const char *name, int dir, const char *dev,
                    const char *stream, const void *spec, const void *map, const void *attr,
                    int *error) { if (error) *error = 1; return NULL; }
int pa_simple_write(void *s, const void *data, size_t bytes, int *error) { if (error) *error = 1; return -1; }
int pa_simple_drain(void *s, int *error) { if (error) *error = 1; return -1; }
void pa_simple_free(void *s) { (void)s; }
EOF
echo 'PULSE_0 { global: pa_simple_new; pa_simple_write; pa_simple_drain; pa_simple_free; local: *; };' > pulse.map
gcc -O2 -shared -fPIC -Wl,--version-script=pulse.map -Wl,-soname,libpulse-simple.so.0 \
    -o $T/lib/libpulse-simple.so.0 pulse_stub.c
strip -s $T/bin/festival $T/lib/*

# Check: render from the prefix as speech_synth does (-q and its own init: no /usr/share/festival).
LD_LIBRARY_PATH=$PWD/$T/lib $T/bin/festival --datadir "$PWD/$T/share/festival" -q -b \
    '(define system-voice-path nil)' '(define system-language-path nil)' \
    '(load (path-append datadir "init.scm"))' '(voice_kal_diphone)' \
    "(utt.save.wave (utt.synth (Utterance Text \"bundle check\")) \"$WORK/check.wav\" 'riff)"
test -s check.wav

tar --sort=name --owner=0 --group=0 --numeric-owner -cf - $T | xz -9 -T1 > "$DEST/festival.tar.xz"
ls -l "$DEST/festival.tar.xz"

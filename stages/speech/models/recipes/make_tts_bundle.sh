#!/bin/bash
# espeak-ng + flite (the training voices kal, kal16, awb) for `speechpipe synth --tts-prefix
# /tmp/tts` on a machine with nothing installed: Debian bookworm's packages (apt-get download,
# dpkg -x; never installed), cut down to what rendering English to a file reads, packed as
# DEST_DIR/tts.tar.xz (top folder tts/, like make_festival_bundle.sh's festival.tar.xz, so the
# two unpack into one prefix).
# Usage: make_tts_bundle.sh [DEST_DIR]   (default .device-carry/tts)
#
# Kept: bin/espeak-ng, bin/flite_cmu_us_{kal,kal16,awb} (one program per voice, which
# speech_synth runs before a plain `flite -voice`); lib/ libespeak-ng, libsonic, libflite and the
# English lexicon, language and voice libraries of those three voices, libasound.so.2 (absent
# from a bare image), a stub libpcaudio.so.0; espeak-ng-data/ with the phoneme tables, the
# English dictionary, the English languages (lang/gmw/en*) and the voice variants (voices/!v).
# Cut: flite's own `flite` program and the rms and slt libraries it links: those voices are the
# unseen-voice test and must never be rendered for training (speech_synth refuses them too);
# every other language's dictionary; mbrola_ph/.
# The stub stands in for libpcaudio (espeak-ng links it for playback only; the real one pulls
# in PulseAudio and ALSA's configuration): its functions fail. Needs apt-get, dpkg, gcc, strip, xz.
set -euo pipefail
DEST=$(realpath -m "${1:-.device-carry/tts}")  # where tts.tar.xz goes (git-ignored)
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir debs root
(cd debs && apt-get download espeak-ng libespeak-ng1 espeak-ng-data libsonic0 flite libflite1 \
    libasound2)
for deb in debs/*.deb; do dpkg -x "$deb" root; done

U=root/usr
L=$U/lib/x86_64-linux-gnu
T=tts
FLITE_VOICES="kal kal16 awb"
mkdir -p $T/bin $T/lib $T/espeak-ng-data/lang/gmw $T/espeak-ng-data/voices
cp $U/bin/espeak-ng $T/bin/
for voice in $FLITE_VOICES; do cp $U/bin/flite_cmu_us_$voice $T/bin/; done
libs="libespeak-ng.so.1 libsonic.so.0 libasound.so.2 libflite.so.1 libflite_usenglish.so.1"
libs="$libs libflite_cmulex.so.1"
for voice in $FLITE_VOICES; do libs="$libs libflite_cmu_us_$voice.so.1"; done
for lib in $libs; do cp -L $L/$lib $T/lib/$lib; done

E=$L/espeak-ng-data
cp $E/phontab $E/phonindex $E/phondata $E/intonations $E/en_dict $T/espeak-ng-data/
cp $E/lang/gmw/en* $T/espeak-ng-data/lang/gmw/
cp -r "$E/voices/!v" $T/espeak-ng-data/voices/

cat > pcaudio_stub.c <<'EOF'
/* Stand-in for libpcaudio.so.0: espeak-ng links it for playback only (-w writes a file). */
#include <stddef.h>
struct audio_object;
struct audio_object *create_audio_device_object(const char *device, const char *name,
                                                const char *description) { return NULL; }
int audio_object_open(struct audio_object *o, int format, unsigned rate, unsigned channels) { return -1; }
void audio_object_close(struct audio_object *o) { (void)o; }
void audio_object_destroy(struct audio_object *o) { (void)o; }
int audio_object_write(struct audio_object *o, const void *data, size_t bytes) { return -1; }
int audio_object_drain(struct audio_object *o) { return -1; }
int audio_object_flush(struct audio_object *o) { return -1; }
const char *audio_object_strerror(struct audio_object *o, int error) { return "no audio device"; }
EOF
gcc -O2 -shared -fPIC -Wl,-soname,libpcaudio.so.0 -o $T/lib/libpcaudio.so.0 pcaudio_stub.c
strip -s $T/bin/* $T/lib/*

# Check: render with every kept program from the prefix, as speech_synth does.
export LD_LIBRARY_PATH=$PWD/$T/lib
$T/bin/espeak-ng --path "$PWD/$T" -v en-gb-scotland+f3 -w check_espeak.wav -- "bundle check"
test -s check_espeak.wav
for voice in $FLITE_VOICES; do
    $T/bin/flite_cmu_us_$voice -t "bundle check" -o check_$voice.wav
    test -s check_$voice.wav
done
if ldd $T/bin/* $T/lib/* | grep -q "not found"; then ldd $T/bin/* $T/lib/*; exit 1; fi

tar --sort=name --owner=0 --group=0 --numeric-owner -cf - $T | xz -9 -T1 > "$DEST/tts.tar.xz"
ls -l "$DEST/tts.tar.xz"

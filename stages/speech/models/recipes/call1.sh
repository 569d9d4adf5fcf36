#!/bin/bash
# Device call 1: TTS programs (espeak-ng, flite, festival, Pico) into $ROOT/tts, wheels into
# $ROOT/site, code to $ROOT/pkg, then render the synthetic sentences and digits in the
# background (setsid). TEXT: the folder of sentences.txt and digits.txt; SEED: the sentences'
# (the digits' is SEED + 1); SENTENCES: how many of the sentences (default 16,000: about 3 minutes
# of 12 processes, which plan H's training waits for); VOICES: the voice families (default all
# nine: Pico's two and, since session 20, espeak-accent included; stage 7 had the first six);
# WHEELS=0 skips the wheels (a rehearsal's venv has them).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
t0=$(date +%s)
mkdir -p $ROOT
for bundle in tts festival pico; do tar xJf $CARRY/tts/$bundle.tar.xz -C $ROOT || exit 1; done
VOICES=${VOICES:-espeak,kal,kal16,awb,festival-kal,festival-ked,pico-us,pico-gb,espeak-accent}
if [ "${WHEELS:-1}" != 0 ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target $ROOT/site $CARRY/whl/*.whl || exit 1
fi
rm -rf $ROOT/pkg && mkdir -p $ROOT/pkg/facespeech && touch $ROOT/pkg/facespeech/__init__.py
cp -r stages pipelines cli $ROOT/pkg/facespeech/
cp ${TEXT:-$CARRY/r5text}/sentences.txt ${TEXT:-$CARRY/r5text}/digits.txt $ROOT/ || exit 1
rm -rf $ROOT/r4 && cp -r "$HERE" $ROOT/r4
rm -rf $ROOT/synth $ROOT/synth_digits $ROOT/synth.done $ROOT/runs.done
S="$PY -m facespeech.cli.speech_synth"
SEED=${SEED:-51}  # stage 7: 31 (sentences), 32 (digits)
setsid nohup bash -c "$S $ROOT/digits.txt --out $ROOT/synth_digits --seed $((SEED + 1)) --voices $VOICES --jobs $JOBS --tts-prefix $ROOT/tts > $ROOT/synth_digits.log 2>&1; $S $ROOT/sentences.txt --max-sentences ${SENTENCES:-16000} --out $ROOT/synth --seed $SEED --voices $VOICES --jobs $JOBS --tts-prefix $ROOT/tts > $ROOT/synth.log 2>&1; echo \$? > $ROOT/synth.done" > /dev/null 2>&1 &
sleep ${SETTLE:-20}
find $ROOT/synth_digits -name '*.wav' | wc -l; tail -c 400 $ROOT/synth_digits.log
nproc; nvidia-smi -L 2>/dev/null; df -h $ROOT | tail -1
echo "call1 $(( $(date +%s) - t0 )) s"

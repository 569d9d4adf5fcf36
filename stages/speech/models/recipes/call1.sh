#!/bin/bash
# Device call 1: TTS programs (espeak-ng, flite, festival) into /tmp/tts, wheels into /tmp/site,
# code to /tmp/pkg, then render the synthetic sentences and digits in the background (setsid).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
t0=$(date +%s)
tar xJf .device-carry/tts/tts.tar.xz -C /tmp && tar xJf .device-carry/tts/festival.tar.xz -C /tmp || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device-carry/whl/*.whl || exit 1
rm -rf /tmp/pkg && mkdir -p /tmp/pkg/facespeech && touch /tmp/pkg/facespeech/__init__.py
cp -r stages pipelines cli /tmp/pkg/facespeech/
cp ${TEXT:-.device-carry/r4text}/*.txt /tmp/
rm -rf /tmp/r4 && cp -r "$HERE" /tmp/r4
S="python3 -m facespeech.cli.speech_synth"
SEED=${SEED:-31}  # stage 7: 31 (sentences), 32 (digits)
setsid nohup bash -c "$S /tmp/digits.txt --out /tmp/synth_digits --seed $((SEED + 1)) --jobs 12 --tts-prefix /tmp/tts > /tmp/synth_digits.log 2>&1; $S /tmp/sentences.txt --out /tmp/synth --seed $SEED --jobs 12 --tts-prefix /tmp/tts > /tmp/synth.log 2>&1; echo \$? > /tmp/synth.done" > /dev/null 2>&1 &
sleep 20
find /tmp/synth_digits -name '*.wav' | wc -l; tail -c 400 /tmp/synth_digits.log
nproc; nvidia-smi -L; df -h /tmp | tail -1
echo "call1 $(( $(date +%s) - t0 )) s"

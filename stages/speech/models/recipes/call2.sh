#!/bin/bash
# Device call 2 (same warm machine): unpack the real audio, start runs.sh, watch.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
t0=$(date +%s)
[ -f /tmp/site/soundfile.py ] && [ -d /tmp/pkg/facespeech ] || { echo "machine not warm"; exit 1; }
python3 -m facespeech.pipelines.speech_train_carry unpack .device-carry/data /tmp/data --jobs 6 > /tmp/unpack.log 2>&1 || { tail /tmp/unpack.log; exit 1; }
echo "unpacked after $(( $(date +%s) - t0 )) s"
setsid nohup bash /tmp/r4/runs.sh > /tmp/runs.log 2>&1 &
bash /tmp/r4/watch.sh $(( ${WATCH:-540} - ($(date +%s) - t0) ))

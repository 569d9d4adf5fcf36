#!/bin/bash
# Device call 2 (same warm machine): unpack the real audio, start runs.sh, watch.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
t0=$(date +%s)
[ -d $ROOT/pkg/facespeech ] && [ -d $ROOT/r4 ] || { echo "machine not warm"; exit 1; }
$PY -m facespeech.pipelines.speech_train_carry unpack $CARRY/data $ROOT/data --jobs 6 \
  > $ROOT/unpack.log 2>&1 || { tail $ROOT/unpack.log; exit 1; }
echo "unpacked after $(( $(date +%s) - t0 )) s"
setsid nohup bash $ROOT/r4/runs.sh > $ROOT/runs.log 2>&1 &
bash $ROOT/r4/watch.sh $(( ${WATCH:-540} - ($(date +%s) - t0) ))

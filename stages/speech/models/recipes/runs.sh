#!/bin/bash
# Started by call 2 under setsid: run F (5x384 from scratch: real speech only, then with the new
# synthetic set) and run E (fine-tune the shipped model with the new synthetic set).
set -u
source /tmp/r4/common.sh
D=/tmp/data
REAL="--train $D/speechocean762/manifest.tsv:train --train $D/fsdd/manifest.tsv:train"
DEV="--dev $D/speechocean762/manifest.tsv:dev --dev $D/fsdd/manifest.tsv:dev"
T="python3 -m facespeech.cli.speech_train"
F1=${F1:-5}; F2=${F2:-11.5}; E=${E:-12.5}
$T $REAL $DEV --out /tmp/runF1 --device cuda --precision bf16 --workers 10 --seed 5 \
  --hidden 384 --layers 5 --lr 1.5e-3 --warmup-steps 300 --epochs 200 \
  --time-budget-minutes $F1 --stop-after-minutes $(python3 -c "print($F1 + 0.5)") > /tmp/runF1.log 2>&1
while [ ! -f /tmp/synth.done ]; do sleep 5; done
SYN="--train /tmp/synth/manifest.tsv --train /tmp/synth_digits/manifest.tsv"
setsid nohup $T $REAL $REAL $SYN $DEV --out /tmp/runE --device cuda --precision bf16 --workers 7 \
  --seed 6 --init /tmp/pkg/facespeech/stages/speech/models/default.pt --lr 3e-4 --warmup-steps 100 \
  --epochs 100 --joined-fraction 0.15 --non-speech-fraction 0.03 \
  --time-budget-minutes $E --stop-after-minutes $(python3 -c "print($E + 0.5)") > /tmp/runE.log 2>&1 &
$T $REAL $REAL $SYN $DEV --out /tmp/runF2 --device cuda --precision bf16 --workers 7 --seed 7 \
  --hidden 384 --layers 5 --init /tmp/runF1/best.pt --lr 8e-4 --warmup-steps 150 --epochs 100 \
  --joined-fraction 0.15 --non-speech-fraction 0.03 \
  --time-budget-minutes $F2 --stop-after-minutes $(python3 -c "print($F2 + 0.5)") > /tmp/runF2.log 2>&1
wait
echo done > /tmp/runs.done

#!/bin/bash
# Started by call 2 under setsid: the training runs of one plan (PLAN, default H), then
# $ROOT/runs.done. Each run writes $ROOT/run<NAME>/{best.pt,last.pt,train_log.jsonl} and
# $ROOT/run<NAME>.log; $ROOT/runs.names lists the runs whose best.pt watch.sh brings back.
#   PLAN=EF  session 4 (stage 7): run F (5x384 from scratch: real speech only, then with the
#            new synthetic set) beside run E (fine-tune the shipped model with it).
#   PLAN=H   next: run H alone, the shipped model grown by one residual GRU layer that starts
#            at zero (--residual-layers, session 17: it begins with exactly the shipped
#            model's outputs), on real speech twice and the synthetic set,
#            with recording levels varied and more telephone lines (session 13: the shipped
#            model reads a phone line 15 points worse and moves 1-1.5 points with the level).
set -u
source "$(cd "$(dirname "$0")" && pwd)/common.sh"
D=$ROOT/data
REAL="--train $D/speechocean762/manifest.tsv:train --train $D/fsdd/manifest.tsv:train"
DEV="--dev $D/speechocean762/manifest.tsv:dev --dev $D/fsdd/manifest.tsv:dev"
SYN="--train $ROOT/synth/manifest.tsv --train $ROOT/synth_digits/manifest.tsv"
SHIPPED=$ROOT/pkg/facespeech/stages/speech/models/default.pt
T="$PY -m facespeech.cli.speech_train"
minutes() { echo "--time-budget-minutes $1 --stop-after-minutes $($PY -c "print($1 + 0.5)")"; }
wait_synth() { while [ ! -f $ROOT/synth.done ]; do sleep 5; done; }

case ${PLAN:-H} in
EF)
  echo "F2 E" > $ROOT/runs.names
  F1=${F1:-5}; F2=${F2:-11.5}; E=${E:-12.5}
  $T $REAL $DEV --out $ROOT/runF1 --device $TRAIN_DEVICE --precision $PRECISION --workers 10 --seed 5 \
    --hidden 384 --layers 5 --lr 1.5e-3 --warmup-steps 300 --epochs 200 \
    $(minutes $F1) > $ROOT/runF1.log 2>&1
  wait_synth
  setsid nohup $T $REAL $REAL $SYN $DEV --out $ROOT/runE --device $TRAIN_DEVICE --precision $PRECISION \
    --workers 7 --seed 6 --init $SHIPPED --lr 3e-4 --warmup-steps 100 --epochs 100 \
    --joined-fraction 0.15 --non-speech-fraction 0.03 $(minutes $E) > $ROOT/runE.log 2>&1 &
  $T $REAL $REAL $SYN $DEV --out $ROOT/runF2 --device $TRAIN_DEVICE --precision $PRECISION --workers 7 --seed 7 \
    --hidden 384 --layers 5 --init $ROOT/runF1/best.pt --lr 8e-4 --warmup-steps 150 --epochs 100 \
    --joined-fraction 0.15 --non-speech-fraction 0.03 $(minutes $F2) > $ROOT/runF2.log 2>&1
  wait
  ;;
H)
  echo "H" > $ROOT/runs.names
  H=${H:-5}  # minutes: a device session has 15 in all (README.md)
  wait_synth
  $T $REAL $REAL $SYN $DEV --out $ROOT/runH --device $TRAIN_DEVICE --precision $PRECISION --workers ${WORKERS:-14} \
    --seed 41 --warm-start $SHIPPED --residual-layers 1 --lr 5e-4 --warmup-steps 150 \
    --epochs 100 --joined-fraction 0.15 --non-speech-fraction 0.03 \
    --gain-prob 0.3 --telephone-prob 0.1 $(minutes $H) > $ROOT/runH.log 2>&1
  ;;
*)
  echo "unknown PLAN ${PLAN}" > $ROOT/runs.names
  ;;
esac
echo done > $ROOT/runs.done

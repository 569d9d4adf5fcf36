#!/bin/bash
# Watch the runs for up to $1 seconds (or until runs.sh ends), then report and copy to $OUT.
set -u
source "$(cd "$(dirname "$0")" && pwd)/common.sh"
end=$(( $(date +%s) + ${1:-540} ))
while [ $(date +%s) -lt $end ] && [ ! -f $ROOT/runs.done ]; do sleep 10; done
tail -n 3 $ROOT/synth_digits.log $ROOT/synth.log 2>/dev/null | cut -c1-300; cat $ROOT/synth.done 2>/dev/null
for r in $(cat $ROOT/runs.names 2>/dev/null); do
  echo "== run $r"; grep -v " step " $ROOT/run$r.log 2>/dev/null | tail -n 8 | cut -c1-400
  [ -f $ROOT/runs.done ] || continue
  [ -f $ROOT/run$r/best.pt ] && split -b 15M -d $ROOT/run$r/best.pt $OUT/run${r}_best.pt.part
  cp $ROOT/run$r/train_log.jsonl $OUT/run${r}_train_log.jsonl 2>/dev/null
done
cat $ROOT/runs.log; uptime; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
[ -f $ROOT/runs.done ] && echo "runs ended" || echo "still training"

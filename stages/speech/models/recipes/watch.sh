#!/bin/bash
# Watch the runs for up to $1 seconds (or until runs.sh ends), then report and copy to $OUT.
set -u
end=$(( $(date +%s) + ${1:-540} ))
while [ $(date +%s) -lt $end ] && [ ! -f /tmp/runs.done ]; do sleep 10; done
tail -n 3 /tmp/synth_digits.log /tmp/synth.log 2>/dev/null | cut -c1-300; cat /tmp/synth.done 2>/dev/null
for r in $(cat /tmp/runs.names 2>/dev/null); do
  echo "== run $r"; grep -v " step " /tmp/run$r.log 2>/dev/null | tail -n 8 | cut -c1-400
  [ -f /tmp/runs.done ] || continue
  [ -f /tmp/run$r/best.pt ] && split -b 15M -d /tmp/run$r/best.pt $OUT/run${r}_best.pt.part
  cp /tmp/run$r/train_log.jsonl $OUT/run${r}_train_log.jsonl 2>/dev/null
done
cat /tmp/runs.log; uptime; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
[ -f /tmp/runs.done ] && echo "runs ended" || echo "still training"

#!/bin/bash
# A rehearsal of plan H's device calls on this machine's CPU, in miniature: the same call1.sh,
# call2.sh, runs.sh and watch.sh, the TTS bundles prepare.sh made, a few real clips packed as
# the real carry is and a few lines of its text. It proves that the scripts, the bundles and the
# code agree before any device time is spent on them (a device session has 15 minutes in all).
# Usage, from the repository root, after prepare.sh: stages/speech/models/recipes/rehearse.sh
# (PY, default .venv/bin/python; DATA, default ../shared/data/speech). About 3 minutes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data/speech}
R=$(mktemp -d /tmp/rehearsal.XXXXXX)
trap 'pkill -f "$R/" 2>/dev/null || true' EXIT
export ROOT=$R/root CARRY=$R/carry OUT=$R/out TEXT=$R/carry/text
export WHEELS=0 TRAIN_DEVICE=cpu PRECISION=fp32 JOBS=2 WORKERS=1 SETTLE=5
mkdir -p $CARRY/text $OUT $R/src/speechocean762 $R/src/fsdd
cp -r .device-carry/tts $CARRY/

# 24 train and 6 dev rows of each real set (the specs' own selection: fsdd's dev rows are
# train rows 5-9 of each speaker and digit), with absolute paths, in folders named as the sets.
for set in speechocean762 fsdd; do
    $PY - "$DATA/$set/manifest.tsv" "$R/src/$set/manifest.tsv" <<'EOF'
import csv, sys
from facespeech.pipelines.manifest import read_manifest
source, target = sys.argv[1], sys.argv[2]
rows = read_manifest(f"{source}:train")[:24] + read_manifest(f"{source}:dev")[:6]
with open(target, "w", newline="") as f:
    writer = csv.writer(f, delimiter="\t")
    writer.writerow(("path", "transcript", "speaker", "split", "duration"))
    for r in rows:
        writer.writerow((r.path.resolve(), r.transcript, r.speaker, r.split, r.duration_s))
EOF
done
$PY -m facespeech.pipelines.speech_train_carry pack $CARRY/data \
    $R/src/speechocean762/manifest.tsv:train $R/src/speechocean762/manifest.tsv:dev \
    $R/src/fsdd/manifest.tsv:train $R/src/fsdd/manifest.tsv:dev 2> $R/pack.log
head -n 12 .device-carry/r5text/sentences.txt > $TEXT/sentences.txt
head -n 6 .device-carry/r5text/digits.txt > $TEXT/digits.txt

bash "$HERE/call1.sh"
# Plan H's run for half a minute of budget: one epoch of the mini set, then best.pt.
PLAN=H H=0.5 WATCH=600 bash "$HERE/call2.sh" | tee $R/call2.log
ls -l $OUT
grep -q "runs ended" $R/call2.log || { echo "rehearsal: the runs did not end"; exit 1; }
[ -s $OUT/runH_best.pt.part00 ] || { echo "rehearsal: no best.pt came back"; exit 1; }
clips=$(($(wc -l < $ROOT/synth/manifest.tsv) - 1))
[ $clips = 12 ] || { echo "rehearsal: $clips of 12 sentences rendered"; exit 1; }
cat $OUT/runH_best.pt.part* > $R/best.pt
$PY -m facespeech.cli.speechpipe evaluate "$R/src/fsdd/manifest.tsv:dev" --model $R/best.pt \
    --beam-width 1 | tail -n 3
echo "rehearsal passed: $R"

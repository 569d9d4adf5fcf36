#!/bin/bash
# Make everything the device calls carry, here, into .device-carry/ (git-ignored), then check
# that each call's carry fits the 64 MiB a call may take with the working tree. Each part is
# skipped when it is there already (FORCE=1 makes it again), so a rerun only checks.
#   .device-carry/data/    the real audio, Opus-coded in shards (speech_train_carry pack)
#   .device-carry/whl/     the cp312 wheels the device's Python lacks, at this venv's versions
#   .device-carry/tts/     tts.tar.xz (espeak-ng, flite), festival.tar.xz and pico.tar.xz
#   .device-carry/r5text/  plan H's text: sentence lines 110,001-140,000 and new digit lines
# Usage, from the repository root: stages/speech/models/recipes/prepare.sh
# (PY: the project's Python, default .venv/bin/python; DATA: default ../shared/data/speech).
# Needs apt-get, dpkg, gcc, strip, xz (the TTS bundles), pip's registry (the wheels, ttspico's
# source distribution), and /usr/share/wordnet (Debian's wordnet-base: the sentences' text).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data/speech}
C=.device-carry
WHEELS="soundfile soxr jiwer rapidfuzz cffi pycparser"
LIMIT_MIB=64
todo() { [ "${FORCE:-0}" = 1 ] || [ ! -e "$1" ]; }

if todo $C/data/index.tsv; then
    rm -rf $C/data
    $PY -m facespeech.pipelines.speech_train_carry pack $C/data \
        $DATA/speechocean762/manifest.tsv:train $DATA/speechocean762/manifest.tsv:dev \
        $DATA/fsdd/manifest.tsv:train $DATA/fsdd/manifest.tsv:dev
fi

if todo $C/whl; then
    rm -rf $C/whl && mkdir -p $C/whl
    for name in $WHEELS; do
        version=$($PY -c "import importlib.metadata as m; print(m.version('$name'))")
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux1_x86_64 -d $C/whl "$name==$version" 2>&1 | grep -v "is ignored" || true
    done
    [ "$(ls $C/whl/*.whl | wc -l)" = "$(echo $WHEELS | wc -w)" ] || { echo "wheels missing"; exit 1; }
fi

todo $C/tts/tts.tar.xz && bash "$HERE/make_tts_bundle.sh" $C/tts
todo $C/tts/festival.tar.xz && bash "$HERE/make_festival_bundle.sh" $C/tts
todo $C/tts/pico.tar.xz && bash "$HERE/make_pico_bundle.sh" $C/tts

if todo $C/r5text/sentences.txt; then
    mkdir -p $C/r5text
    all=$(mktemp)
    # The shuffled sentence list of MODEL_CARD.md ("Stages 3-4"): 157,006 lines; the unseen-voice
    # test reads lines 156,807-157,006, so nothing from 150,001 on is ever rendered for training.
    $PY -m facespeech.pipelines.speech_synth sentences "$all" --source /usr/share/wordnet \
        --source $DATA/speechocean762/manifest.tsv:train \
        --exclude $DATA/speechocean762/manifest.tsv --exclude $DATA/fsdd/manifest.tsv
    [ "$(wc -l < "$all")" = 157006 ] || { echo "not the card's sentence list: $(wc -l < "$all") lines"; exit 1; }
    sed -n 110001,140000p "$all" > $C/r5text/sentences.txt
    rm -f "$all"
    $PY -m facespeech.pipelines.speech_synth digits $C/r5text/digits.txt --seed 51
fi

# Each call carries the working tree (tracked and untracked, not ignored, files) and its paths.
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb | tail -1 | cut -f1)
fits=0
check() {
    local name=$1; shift
    local bytes=$(( tree + $(du -cb "$@" | tail -1 | cut -f1) ))
    awk -v n="$name" -v b=$bytes -v t=$tree -v p="$*" \
        'BEGIN { printf "%-6s %5.1f MiB (working tree %.1f + %s)\n", n, b / 1048576, t / 1048576, p }'
    [ $bytes -le $(( LIMIT_MIB * 1048576 )) ] || { echo "  over $LIMIT_MIB MiB"; fits=1; }
}
check call1 $C/tts $C/whl $C/r5text
check call2 $C/data
exit $fits

# Sourced by the device scripts: where they work and what they run. On the device every default
# holds; rehearse.sh runs the same scripts on this machine's CPU with other values.
export ROOT=${ROOT:-/tmp}                  # scratch folder: tts/, site/, pkg/, data/, synth/, run*/
export CARRY=${CARRY:-.device-carry}       # the carried inputs, relative to the repository root
export PY=${PY:-python3}                   # the device's Python 3.12 with its CUDA torch
export TRAIN_DEVICE=${TRAIN_DEVICE:-cuda} PRECISION=${PRECISION:-bf16}
export JOBS=${JOBS:-12}                    # TTS processes (16 cores, some left to the loader)
export PYTHONUNBUFFERED=1
export PYTHONPATH=$ROOT/pkg:$ROOT/site     # the copied code and the carried wheels

# Sourced by the device scripts: the package from a copy of the code, the carried wheels.
export PYTHONUNBUFFERED=1
export PYTHONPATH=/tmp/pkg:/tmp/site

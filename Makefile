# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the project (no compiler, nothing downloaded at run time).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_GALLERY := $(VENV)/demo-gallery.db

.PHONY: venv demo test test-all lint bench clean

venv: $(BIN)/facepipe

$(BIN)/facepipe: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: venv
	rm -f $(DEMO_GALLERY)
	$(BIN)/facepipe --gallery $(DEMO_GALLERY) enroll --from-dir sample_media/faces/known
	$(BIN)/facepipe --gallery $(DEMO_GALLERY) identify sample_media/faces/unknown
	@if [ -f stages/speech/models/default.pt ]; then \
		$(BIN)/speechpipe transcribe sample_media/speech/*.wav; fi

test: venv
	$(BIN)/pytest -m "not slow and not gpu" -q

test-all: venv
	$(BIN)/pytest -q

# mypy cannot follow setuptools' editable-install import hook (the package-dir mapping), so
# it reads the package through a tree of links laid out as installed.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p build/mypy/facespeech
	for d in stages pipelines cli; do ln -sfn ../../../$$d build/mypy/facespeech/$$d; done
	MYPYPATH=build/mypy $(BIN)/mypy -p facespeech.stages -p facespeech.pipelines

bench: venv
	$(MAKE) -f benchmarks/Makefile bench

clean:
	rm -rf $(VENV) .bench-venv *.egg-info .pytest_cache .ruff_cache .mypy_cache

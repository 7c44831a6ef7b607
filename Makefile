# The README's two set-up commands: `make demo` (main job on embedded data) and `make test`.
# Both create the virtual environment on first use; nothing is downloaded at run time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: install
	$(BIN)/genbench run --models vae,wgan --dataset shapes --preset small
	$(BIN)/genbench table --dataset shapes --preset small

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

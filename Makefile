# vkernel: the two commands of the README, plus benchmarks and long fuzzing.
#   make lab   - set up .venv, compile the core once, open the tour (notebooks/00-tour.ipynb) in JupyterLab
#   make test  - set up .venv (and, as root, the Debian tools the tests use) and run everything
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB_ARGS ?=
# Debian packages the tests use: independent oracles, and a real browser for JupyterLab
APT_PACKAGES := binutils-riscv64-unknown-elf qemu-system-misc device-tree-compiler chromium \
                opensbi u-boot-qemu

.PHONY: lab test bench fuzz lint clean apt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(VENV)/.lab-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[lab]'
	touch $@

$(VENV)/.dev-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.lab-stamp

# JupyterLab serves notebooks/ (the folder of the file it opens) and opens the tour.
# First `vkernel warm` compiles the numba core into its cache (a minute or two, once, with
# the time passing on the terminal; a later `make lab` finds it warm in a fraction of a
# second), so that no notebook cell waits for the compiler. numba keys that cache by CPU
# name: the warm-up and JupyterLab (whose kernels inherit its environment) run here with
# the same NUMBA_CPU_NAME, the caller's (unset: this CPU's model, the cache `make test`
# fills too; Binder sets generic).
lab: $(VENV)/.lab-stamp
	$(BIN)/vkernel warm
	$(BIN)/jupyter lab notebooks/00-tour.ipynb $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not root: tests needing$$missing will be skipped"; fi; \
	fi

lint: $(VENV)/.dev-stamp
	$(BIN)/ruff check vkernel tests benchmarks

test: $(VENV)/.dev-stamp apt lint
	$(BIN)/python -m pytest -n auto

bench: $(VENV)/.dev-stamp apt
	$(BIN)/python benchmarks/bench_asm.py
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_trace.py

# long fuzzing of the core (the suite runs a bounded amount): FUZZ_SECONDS=600 make fuzz
FUZZ_SECONDS ?= 300
fuzz: $(VENV)/.dev-stamp
	$(BIN)/python benchmarks/fuzz_core.py --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info

# Two commands do everything on a fresh machine with only Python:
#   make demo   -> set up, then show the library catching a broken run next to its fixed twin
#   make test   -> set up, then run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# This machine has a CPU build of torch 2.13.0 on disk; any other torch pulls GBs of CUDA wheels.
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-slow real-failures zoo zoo-quick calibration calibration-quick sweep-quick overhead start-up lint type docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[tests]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/sb3-diagnostics demo

# Two workers (this machine has 2 cores); a test file stays on one worker so its fixtures train once.
# The default suite leaves out tests marked slow (the algorithm x space x VecEnv matrix, ...): CI runs them too.
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

test-slow: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m slow

zoo: setup
	$(BIN)/python benchmarks/fault_zoo/run.py

zoo-quick: setup
	$(BIN)/python benchmarks/fault_zoo/run.py --quick

# The calibration's Box2D runs (LunarLander, BipedalWalker) need the bench extra; where it cannot be installed
# (no wheel for this Python or platform) they are skipped, not failed.
$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[bench]" || echo "Box2D could not be installed: the calibration skips its LunarLander / BipedalWalker runs"
	touch $@

calibration: setup $(BIN)/.bench-installed
	$(BIN)/python benchmarks/calibration/run.py

sweep-quick: setup
	$(BIN)/python benchmarks/sweep.py --quick

calibration-quick: setup
	$(BIN)/python benchmarks/calibration/run.py --quick --workers 2

real-failures: setup
	$(BIN)/python benchmarks/real_failures/run.py

overhead: setup
	$(BIN)/python benchmarks/overhead.py

start-up: setup
	$(BIN)/python benchmarks/start_up.py

$(BIN)/.docs-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[docs]"
	touch $@

# The documentation, warnings as errors; the finding-code pages are written from sb3_diagnostics.explain
# at build time (docs/_ext/codepages.py). Trains nothing. Open docs/_build/html/index.html.
docs: $(BIN)/.docs-installed
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

lint: setup
	$(BIN)/ruff check sb3_diagnostics tests examples benchmarks

type: setup
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache build *.egg-info docs/_build docs/codes

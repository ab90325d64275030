# The two commands of the quick start:
#   make lab    set up, then open the course in JupyterLab (the student's view)
#   make test   set up, then run every test (library, notebooks, grading)
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
# nbgrader calls the `alembic` executable: the venv's bin must be on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: lab instructor test venv execute release bench bench-threads clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[course,test]"
	touch $@

# The student's JupyterLab on course/ (nbgrader's Validate button, none of its
# instructor tools) and the instructor's at the course root (formgrader,
# create-assignment). lessonlib/labs.py builds both command lines (tests/notebooks/test_labs.py
# starts the same ones) from the config folders jupyter/student and jupyter/instructor;
# it adds --allow-root as root. Extra options: make lab LAB_ARGS="--port=9000".
lab: venv
	$(BIN)/python -m lessonlib.labs student $(LAB_ARGS)

instructor: venv
	$(BIN)/python -m lessonlib.labs instructor $(LAB_ARGS)

# Two pytest workers on two cores: one BLAS thread each, or they fight.
test: export OPENBLAS_NUM_THREADS = 1
test: export OMP_NUM_THREADS = 1
test: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup -p no:nbval --doctest-modules --cov=lessonlib --cov-report=term --durations=15 tests lessonlib
	$(BIN)/python -m pytest -n 2 --dist loadscope --nbval solutions --nbval-current-env
	@echo "PyTorch is optional: the tests that compare with it, run again with it hidden, must skip."
	PYTHONPATH=tests/_without_torch $(BIN)/python -m pytest -q -n 2 -p no:nbval -p no:cacheprovider $$(grep -rl torch tests --include='test_*.py')

# After editing solutions/: re-execute them (outputs are committed), then release.
execute: venv
	$(BIN)/python -m lessonlib.authoring solutions/*/*.ipynb

release: venv
	$(BIN)/lessonlib release

bench: venv
	$(BIN)/python benchmarks/run.py

# Notebook 07's training loop on an idle and on a busy machine, with lessonlib's
# default BLAS thread policy (lessonlib/_threads.py), without it, and forced to 1 thread.
bench-threads: venv
	$(BIN)/python benchmarks/threads.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .coverage htmlcov

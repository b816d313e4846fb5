# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app dashboard
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench venv serve-prod clean

$(BIN)/activate: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

run: venv
	$(FLASK) init-db
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload --with-threads

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m bench

serve-prod: venv
	$(FLASK) init-db
	$(BIN)/gunicorn --workers 3 --bind $(HOST):$(PORT) wsgi:app

clean:
	rm -rf $(VENV) .pytest_cache

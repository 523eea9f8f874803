# The commands a newcomer needs. Only Python 3.11+ and make are required.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# Test database: sqlite (default, needs nothing) or postgresql (the local server, trust auth).
DB ?= sqlite

.PHONY: install sandbox test lint run upgrade bench messages clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## Chat with the bot in this terminal, on an offline fake Telegram with a demo working group.
sandbox: install
	$(BIN)/wgbot sandbox

## The whole test suite (DB=postgresql runs it on PostgreSQL).
test: install
	WGBOT_TEST_DATABASE=$(DB) $(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## Run for real: needs BOT_TOKEN (and the rest of the settings) in .env.
run: install
	$(BIN)/wgbot db upgrade
	$(BIN)/wgbot run

upgrade: install
	$(BIN)/wgbot db upgrade

bench: install
	$(BIN)/python bench/bench_help.py
	$(BIN)/python bench/bench_broadcast.py
	$(BIN)/python bench/bench_meetings.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_ballot.py

messages: install
	PATH=$(BIN):$$PATH ./scripts/update_messages.sh

clean:
	rm -rf $(VENV) sandbox-data .pytest_cache .ruff_cache

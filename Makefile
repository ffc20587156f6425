# OneSeal: two entry points for people (`make run`, `make test`); everything they need is installed here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PG_DSN := host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3

.PHONY: run test install bytecode postgres compose-tool browser lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## Start the embedded stack in the foreground (Temporal dev server + worker); Ctrl-C stops it.
run: $(STAMP) bytecode
	$(BIN)/oneseal up

## Lint and type-check, then run the whole suite against a real Temporal dev server, SQLite and PostgreSQL,
## the pages in Debian's chromium, and validate docker-compose.yml.
test: $(STAMP) bytecode postgres compose-tool browser lint
	$(BIN)/python -m pytest

# Our modules compiled once: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process would
# compile them again at start (about 0.4 s of CPU per CLI call, worker, projector and workflow sandbox).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q domain workflows projections services workers entrypoints >/dev/null

# PostgreSQL runs on every development and CI machine; start it if it is down.
postgres: $(STAMP)
	@$(BIN)/python -c "import psycopg; psycopg.connect('$(PG_DSN)').close()" 2>/dev/null || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 30); do $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_DSN)').close()" 2>/dev/null && break; sleep 1; done; }
	@$(BIN)/python -c "import psycopg; psycopg.connect('$(PG_DSN)').close(); print('PostgreSQL is up')"

# Debian's docker-compose validates docker-compose.yml without a Docker engine (tests/unit/test_deployment.py).
compose-tool:
	@command -v docker-compose >/dev/null 2>&1 || { echo "installing Debian's docker-compose"; \
	  apt-get install -y -q docker-compose >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q docker-compose >/dev/null; }; }
	@docker-compose version --short

# The browser tests drive Debian's chromium with a CJK font (never `playwright install`, which downloads).
browser:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "wenquanyi micro hei"; then echo "chromium and CJK font present"; else \
	  echo "installing chromium and fonts-wqy-microhei"; \
	  apt-get update -qq && apt-get install -y --no-install-recommends chromium fonts-wqy-microhei; fi

lint: $(STAMP)
	$(BIN)/ruff check domain workflows projections services workers entrypoints tests bench
	$(BIN)/ruff format --check domain workflows projections services workers entrypoints tests bench
	$(BIN)/mypy domain workflows projections services workers entrypoints

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info

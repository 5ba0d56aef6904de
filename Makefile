# The commands the README shows and .ci/run calls, verbatim.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-tools lint bench-agent bench-hub bench-ui bench venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[hub,test]'
	touch $(STAMP)

venv: $(STAMP)

## make run: hub on http://127.0.0.1:8000 (SQLite under ./data) with a local agent
run: $(STAMP)
	$(BIN)/fleetwatch up --data-dir ./data

## make test: lint, type-check, then every test (PostgreSQL ones need FLEETWATCH_TEST_POSTGRES_URL)
test: $(STAMP) lint test-tools
	$(BIN)/python -m pytest

## the Debian tools the e2e tests drive (installed when missing and apt-get is there)
TEST_TOOLS = chromium:chromium promtool:prometheus snmpwalk:snmp victoria-metrics:victoria-metrics
test-tools:
	@for pair in $(TEST_TOOLS); do \
		cmd=$${pair%%:*}; pkg=$${pair#*:}; \
		command -v $$cmd >/dev/null 2>&1 || test -x /usr/bin/$$cmd || ! command -v apt-get >/dev/null \
			|| DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$pkg >/dev/null \
			|| echo "could not install $$pkg: its tests will be skipped"; \
	done

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## make bench-agent: 60 s agent footprint vs node_exporter, Glances, bare psutil (BENCH_ARGS="--seconds 5")
## then the running daemon: 1 s vs the same, 10 min at defaults, buffer replay
## (RUNTIME_BENCH_ARGS="--seconds 5 --idle-seconds 5 --replay-count 1000" for a smoke run)
bench-agent: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[hub,test,bench]'
	command -v prometheus-node-exporter >/dev/null || test -x /usr/bin/prometheus-node-exporter \
		|| (apt-get install -y prometheus-node-exporter || (apt-get update && apt-get install -y prometheus-node-exporter))
	$(BIN)/python bench/agent_footprint.py $(BENCH_ARGS)
	$(BIN)/python bench/agent_runtime.py $(RUNTIME_BENCH_ARGS)

bench-hub: $(STAMP)
	test -x /usr/bin/victoria-metrics \
		|| (apt-get install -y victoria-metrics || (apt-get update && apt-get install -y victoria-metrics))
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/query.py $(QUERY_BENCH_ARGS)
	$(BIN)/python bench/stream.py $(STREAM_BENCH_ARGS)
	test -x /usr/bin/prometheus-node-exporter || apt-get install -y --no-install-recommends prometheus-node-exporter
	$(BIN)/python bench/prometheus.py
	test -x /usr/sbin/snmpd || apt-get install -y --no-install-recommends snmpd
	$(BIN)/python bench/snmp.py
	test -x /usr/sbin/rsyslogd || apt-get install -y --no-install-recommends rsyslog
	$(BIN)/python bench/logs.py $(LOGS_BENCH_ARGS)
	$(BIN)/python bench/remote_write.py
	$(BIN)/python bench/health.py
	$(BIN)/python bench/commands.py

## make bench-ui: the dashboard with 1,000 servers in Debian chromium: first render, bytes,
## RSS per open dashboard, hub CPU with 10 dashboards (UI_BENCH_ARGS="--servers 200 --seconds 5
## --dashboards 3" for a smoke run)
bench-ui: $(STAMP)
	test -x /usr/bin/chromium || (apt-get install -y chromium || (apt-get update && apt-get install -y chromium))
	$(BIN)/python bench/ui_load.py $(UI_BENCH_ARGS)

bench: bench-agent bench-hub bench-ui

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

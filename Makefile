# Liandong: `make demo` runs the main job, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo smoke bench bench-scale test test-faults test-loaded lint typecheck broker-stop clean promtool browser fonts dashboards

$(STAMP): pyproject.toml sdk/pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is needed for the local Kafka broker (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed to fetch the Kafka jars (apt-get install maven)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ./sdk -e ".[test,profile]"
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP) fonts

# The report's charts have Chinese labels: a CJK font from Debian's packages (fonts-wqy-microhei).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fonts:
	@test -f $(CJK_FONT) || { \
	  echo "installing a CJK font for the report's charts (Debian package fonts-wqy-microhei)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei || \
	    { $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei; }; } || \
	  echo "warning: no CJK font installed: the report's Chinese labels will not render (apt-get install fonts-wqy-microhei)"; }

# The district simulation (about 6 minutes): its own broker, every service, the annual report in .liandong/demo/<time>/report.
demo: setup
	$(BIN)/liandong demo

smoke: setup
	$(BIN)/liandong smoke

# Throughput and latency, pipeline against a raw Kafka relay, 1 and 2 workers per service (writes bench.json).
bench: setup
	$(BIN)/liandong bench --out bench.json

# The ledger's memory, start time and API latency with 10 thousand, 100 thousand and a million
# cases, in memory and in RocksDB (writes bench-scale.json; about 40 minutes, 5 GB of disk).
bench-scale: setup
	$(BIN)/liandong bench-scale --out bench-scale.json

# promtool checks deploy/prometheus in tests/unit/test_deploy.py; it comes with Debian's `prometheus` package.
promtool:
	@command -v promtool >/dev/null || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# The console's browser tests drive Debian's chromium through chromium-driver (no browser download).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium and chromium-driver for the console's browser tests (Debian packages)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver || \
	  { $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; }; }

dashboards: setup
	$(BIN)/python tools/dashboards.py

lint: setup
	$(BIN)/ruff check liandong services sdk tests tools

typecheck: setup
	$(BIN)/mypy

test: setup promtool browser lint typecheck
	$(BIN)/liandong schemas check
	$(BIN)/python -m pytest

# Only the reliability run (part of `make test` too): services SIGKILLed in turn, broker restart,
# poison messages (3-5 minutes).
test-faults: setup
	$(BIN)/python -m pytest -m fault tests/e2e/test_faults.py

# The e2e and fault tests with one core kept busy by another process (issue 15: CI that holds under
# load). The busy loop stops however pytest ends.
test-loaded: setup promtool
	@$(BIN)/python -c "while True: pass" & busy=$$!; \
	trap 'kill $$busy 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m pytest tests/e2e -p no:cacheprovider

broker-stop: setup
	$(BIN)/liandong broker stop

clean:
	-$(BIN)/liandong broker stop
	rm -rf .liandong .pytest_cache .hypothesis

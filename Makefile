# 科技项目申报与企业库管理后台 — set-up, run and test. Everything a fresh machine needs happens here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test install install-test browser db bench clean vendor

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed vendor

# Apache ECharts from the npm registry, copied into static/vendor/ and served by the app (works offline).
vendor: static/vendor/echarts.min.js

static/vendor/echarts.min.js: package.json
	@test -f node_modules/echarts/dist/echarts.min.js || npm install --no-audit --no-fund
	mkdir -p static/vendor
	cp node_modules/echarts/dist/echarts.min.js $@

install-test: $(VENV)/.installed-test vendor browser

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

db: install
	$(FLASK) db upgrade
	$(FLASK) seed bootstrap

run: db
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance/app.db

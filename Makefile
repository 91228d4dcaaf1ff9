# illumos-rust: everything a fresh machine needs is installed from here.
PY       ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
# Debian packages the tests use as independent oracles (rustfilt; gcc, clang, gdb, llvm-dwarfdump-14 from
# llvm-14 for DWARF) or benchmarks use as anchors (ripgrep),
# and the crate sources `port`'s tests check the known Solaris-only gaps in (issue 6).
DEB_PKGS := rustfilt ripgrep binutils gdb xz-utils patch clang golang-go nasm systemtap-sdt-dev libssl-dev \
            gcc llvm llvm-14 \
            librust-users-dev librust-fs2-dev librust-stacker-dev librust-term-size-dev \
            librust-shared-library-dev librust-libc-dev librust-nix-dev
# port's recall test deports these and compares with what their porters wrote (a fresh CI machine skipped it).
DEB_PKGS += librust-sys-info-dev librust-mio-dev librust-termios-dev
# inspect's recognition and note tests build C, C++ and Go programs (issue 11).
DEB_PKGS += gcc g++
# toolchain build-std / dist (issue 17): Debian's rustc + its matching std source (with library/vendor),
# repackaged and served to rustup in the end-to-end test.
DEB_PKGS += rustc-web cargo-web rust-web-src
# survey's report is rendered in headless Chromium by its tests (issue 18); adler is the crate with no OS code
# its tests use beside the ones above (a fresh CI machine skipped them without it).
DEB_PKGS += chromium librust-adler-dev
# core's aarch64 test: a cross-built C program crashed under qemu-user (which writes an aarch64 core),
# compared with gdb-multiarch on the same core (issue 14).
DEB_PKGS += gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gdb-multiarch
SHARED   ?= $(or $(ILLUMOS_RUST_SHARED),$(abspath ../shared))
export ILLUMOS_RUST_SHARED := $(SHARED)

.PHONY: venv sysdeps demo test lint typecheck unit bench fuzz corpus clean readme illumos-std aarch64-std e2e

venv: $(STAMP)

# flock: several make runs (parallel jobs, two shells) must not build the same venv at once.
$(STAMP): pyproject.toml
	flock .venv.lock sh -c '[ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ] || { \
	  $(PY) -m venv $(VENV) && $(VPY) -m pip install -q --disable-pip-version-check -e ".[dev]" && touch $(STAMP); }'

# Installs missing Debian packages; a no-op when all are present (or when not root: tests then skip with a reason).
sysdeps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null; \
	  else echo "not root, missing Debian packages:$$missing (dependent tests will skip)"; fi; \
	fi

demo: venv
	@bash scripts/demo.sh

readme:
	@bash scripts/readme.sh

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

unit: venv sysdeps
	$(VENV)/bin/pytest -n 2 -q

test: lint typecheck unit

bench: venv sysdeps
	$(VPY) -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@# Every benchmark runs even when an earlier one misses its bar; the misses are listed and fail the run.
	@cd benchmarks && failed=""; for b in bench_*.py; do echo "== $$b"; \
	  PATH=$(CURDIR)/$(VENV)/bin:$$PATH ../$(VPY) $$b || failed="$$failed $$b"; done; \
	  if [ -n "$$failed" ]; then echo "benchmarks that missed a bar or failed:$$failed"; exit 1; fi

fuzz: venv
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50000} $(VENV)/bin/pytest -q -p no:randomly tests -k fuzz

# illumos std for tests/test_probes_illumos.py, built once by scripts/probes-illumos-std.sh (~10 min on 2 shared
# cores). Cached under .cache/illumos-std: the stamp holds a key (hash of the script + the Debian rustc and
# rust-web-src versions), so a rerun with the same inputs is a no-op and a changed script or toolchain rebuilds.
STD_DIR  := .cache/illumos-std
STD_KEY   = { cat scripts/probes-illumos-std.sh; /usr/bin/rustc --version 2>/dev/null; \
	    dpkg-query -W rust-web-src 2>/dev/null; } | sha256sum | cut -c1-16
illumos-std:
	@mkdir -p $(STD_DIR); flock $(STD_DIR).lock sh -c '\
	  key=$$($(STD_KEY)); \
	  if [ "$$(cat $(STD_DIR)/stamp 2>/dev/null)" = "$$key" ] && \
	     [ -d $(STD_DIR)/sysroot/lib/rustlib/x86_64-unknown-illumos/lib ]; then \
	    echo "illumos std up to date ($(STD_DIR)/sysroot, key $$key)"; \
	  else rm -f $(STD_DIR)/stamp; env -u ILLUMOS_RUST_STD_SYSROOT bash scripts/probes-illumos-std.sh && \
	    $(STD_KEY) >$(STD_DIR)/stamp; fi'

# std for aarch64-unknown-linux-gnu, the same way: the aarch64 core test (a Rust panic under qemu-user, read
# against gdb-multiarch) and the probes' aarch64 backend test compile against it (~1 min).
A64_DIR  := .cache/std-aarch64-unknown-linux-gnu
aarch64-std:
	@mkdir -p $(A64_DIR); flock $(A64_DIR).lock sh -c '\
	  key=$$($(STD_KEY)); \
	  if [ "$$(cat $(A64_DIR)/stamp 2>/dev/null)" = "$$key" ] && \
	     [ -d $(A64_DIR)/sysroot/lib/rustlib/aarch64-unknown-linux-gnu/lib ]; then \
	    echo "aarch64 std up to date ($(A64_DIR)/sysroot, key $$key)"; \
	  else rm -f $(A64_DIR)/stamp; bash scripts/probes-illumos-std.sh aarch64-unknown-linux-gnu && \
	    $(STD_KEY) >$(A64_DIR)/stamp; fi'

# End-to-end tests that need the illumos std: a missing std is a failure here, not a skip.
# The dist/toolchain ones (issue 17) build three full stds with `toolchain build-std` (illumos with frame
# pointers, a custom target JSON, panic=abort; a few minutes each, cached in the temp dir by their inputs) and
# install them with the real rustup; `make test` skips them with that reason.
E2E_DIST := tests/test_dist_e2e.py tests/test_dist_e2e_custom.py tests/test_toolchain_panic_abort.py
e2e: venv sysdeps illumos-std aarch64-std
	env -u ILLUMOS_RUST_STD_SYSROOT ILLUMOS_RUST_REQUIRE_STD=1 $(VENV)/bin/pytest -q tests/test_probes_illumos.py \
	  tests/test_core_aarch64_qemu.py tests/test_probes_linux.py::test_aarch64_linux_backend
	ILLUMOS_RUST_E2E=1 $(VENV)/bin/pytest -q $(E2E_DIST)

corpus:
	bash scripts/corpus.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

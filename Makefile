# LKL: Linux as a library. This Makefile drives the whole build:
#
#   deps -> base -> tree -> kernel -> headers -> host   (= all)
#
#   deps     check for the build's tools and packages (installs them when root;
#            `make test` also checks for what the tests need)
#   base     verify the 6.12.y base tarball and cache it (scripts/base.sh, BASE)
#   tree     assemble build/linux: base + patches/series + overlay (scripts/assemble.sh)
#   kernel   build/kobj/lkl.o, syscall_defs.txt and the kernel's uapi headers
#   headers  build/lkl/include (scripts/headers.sh)
#   host     CMake build of tools/lkl: build/lkl/{lib,tests,bin}
#
# install/uninstall put the libraries, headers and lkl.pc under PREFIX (scripts/install.sh).
#
# FRAGMENT=name builds a variant of the kernel: defconfig plus the config fragment
# arch/lkl/configs/name.config (kbuild's `make defconfig name.config`), in directories of its
# own (build/kobj-name, build/host-name -> build/lkl-name), next to the default build from the
# same tree. `make bench ARGS=--tick` builds FRAGMENT=hz-periodic this way.
#
# `make help` lists the targets and the variables that change them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := all
.NOTPARALLEL:
MAKEFLAGS += --no-print-directory
# Keep our command-line variables (BUILD=, V=, ...) out of the kernel's and
# kselftest's makes: kselftest has a BUILD variable of its own.
MAKEOVERRIDES :=

ROOT := $(CURDIR)
BUILD ?= build
override BUILD := $(abspath $(BUILD))
LKL_CACHE ?= $(HOME)/.cache/lkl
override LKL_CACHE := $(abspath $(LKL_CACHE))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SANITIZE ?= 0
V ?= 0
FORCE ?= 0
BASE_TARBALL ?=
FRAGMENT ?=
ARGS ?=
PREFIX_DEFAULT := $(filter undefined,$(origin PREFIX))
PREFIX ?= /usr/local
DESTDIR ?=
# After the defaults: make 4.3's unexport defines an unset variable as empty.
unexport BUILD JOBS SANITIZE V FORCE BASE_TARBALL FRAGMENT ARGS PREFIX DESTDIR
ifneq ($(word 2,$(FRAGMENT))$(findstring /,$(FRAGMENT)),)
$(error FRAGMENT: the name of one fragment in arch/lkl/configs (without .config), got "$(FRAGMENT)")
endif

# The variant's suffix of every output directory ("" for the default kernel).
VARIANT := $(if $(FRAGMENT),-$(FRAGMENT))

SRC := $(BUILD)/linux
KOBJ := $(BUILD)/kobj$(VARIANT)
INCLUDE := $(BUILD)/lkl$(VARIANT)/include
ifeq ($(SANITIZE),1)
HOSTB := $(BUILD)/host-asan$(VARIANT)
OUT := $(BUILD)/lkl-asan$(VARIANT)
RESULTS := $(BUILD)/test-results-asan$(VARIANT)
CMAKE_SANITIZE := ON
else
HOSTB := $(BUILD)/host$(VARIANT)
OUT := $(BUILD)/lkl$(VARIANT)
RESULTS := $(BUILD)/test-results$(VARIANT)
CMAKE_SANITIZE := OFF
endif

ifeq ($(V),1)
Q :=
QUIET :=
KBUILD_V := V=1
CMAKE_V := --verbose
else
Q := @
QUIET := >/dev/null
KBUILD_V :=
CMAKE_V :=
endif

# Environment of the scripts.
export LKL_ROOT := $(ROOT)
export LKL_BUILD := $(BUILD)
export LKL_CACHE
export LKL_VERBOSE := $(V)
export CCACHE_DIR ?= $(LKL_CACHE)/ccache
# Paths under the checkout are hashed relative to it: a fresh clone elsewhere
# (CI) still hits the cache.
export CCACHE_BASEDIR ?= $(ROOT)
export CCACHE_NOHASHDIR ?= 1

# With `make -jN` the sub-makes share our job server; otherwise use $(JOBS).
jobs = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))
KMAKE = $(MAKE) -C $(SRC) ARCH=lkl O=$(KOBJ) CC="ccache gcc" HOSTCC="ccache gcc" $(KBUILD_V)
# Kbuild takes ~10 s to find nothing to do in a full tree; the kernel step is
# skipped when no file it reads changed since its last success (the stamp holds
# the start time of that build and the compiler it used). tools/lkl and
# tools/testing hold the host side and kselftest outputs, which kbuild never reads.
KSTAMP := $(KOBJ)/.lkl-kernel-stamp
kernel_id = $(shell gcc -dumpfullversion) $(KBUILD_ID)
KBUILD_ID := ARCH=lkl CC=ccache-gcc
kernel_up_to_date = [ -f $(KSTAMP) ] && [ "$$(cat $(KSTAMP))" = "$(kernel_id)" ] && \
	[ -f $(KOBJ)/lkl.o ] && [ -f $(KOBJ)/syscall_defs.txt ] && [ ! $(KOBJ)/.config -nt $(KSTAMP) ] && \
	[ -z "$$(find $(SRC) \( -path $(SRC)/.git -o -path $(SRC)/tools/lkl -o -path $(SRC)/tools/testing \) \
		-prune -o -newer $(KSTAMP) -print -quit)" ]
CMAKE_ARGS := -S $(SRC)/tools/lkl -B $(HOSTB) -DLKL_INCLUDE_DIR=$(INCLUDE) \
	-DLKL_KERNEL_OBJ=$(KOBJ)/lkl.o -DLKL_OUTPUT_DIR=$(OUT) -DLKL_SANITIZE=$(CMAKE_SANITIZE) \
	-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

.PHONY: all deps base tree kernel headers host test bench run install uninstall clean distclean \
	distclean-cache help

# Before anything is built: an instrumented library is for the tests only.
ifneq ($(filter install,$(MAKECMDGOALS)),)
ifeq ($(SANITIZE),1)
$(error install: SANITIZE=1 builds (ASan+UBSan) are for testing only and need the sanitizer \
	runtimes; install the normal build: make install PREFIX=...)
endif
endif

all: host
	$(Q)echo "all: $(patsubst $(ROOT)/%,%,$(OUT)): lib/liblkl.{a,so}, $$(ls $(OUT)/tests/*_test 2>/dev/null | wc -l) test binaries, bin: $$(ls $(OUT)/bin 2>/dev/null | xargs)"

# What only the tests need is checked (and installed) when `test` is a goal.
deps:
	$(Q)$(ROOT)/scripts/install-deps.sh --ensure $(if $(filter test,$(MAKECMDGOALS)),,--build-only) \
		$(if $(BASE_TARBALL),--no-base)

base: deps
	$(Q)BASE_TARBALL="$(BASE_TARBALL)" $(ROOT)/scripts/base.sh

tree: base
	$(Q)FORCE=$(FORCE) $(ROOT)/scripts/assemble.sh

kernel: tree
	$(Q)[ -f $(CCACHE_DIR)/ccache.conf ] || { mkdir -p $(CCACHE_DIR) && ccache -M 5G >/dev/null; }
	$(Q)mkdir -p $(KOBJ)
	$(Q)defconfig=$(SRC)/arch/lkl/configs/defconfig; fragment=$(if $(FRAGMENT),$(SRC)/arch/lkl/configs/$(FRAGMENT).config); \
	[ -f $$defconfig ] || { echo "error: arch/lkl/configs/defconfig is missing" >&2; exit 1; }; \
	[ -z "$$fragment" ] || [ -f "$$fragment" ] || { echo "error: FRAGMENT=$(FRAGMENT): arch/lkl/configs/$(FRAGMENT).config is missing" >&2; exit 1; }; \
	cat $$defconfig $$fragment >$(KOBJ)/.lkl-defconfig.new; \
	if [ ! -f $(KOBJ)/.config ] || ! cmp -s $(KOBJ)/.lkl-defconfig.new $(KOBJ)/.lkl-defconfig; then \
		[ ! -f $(KOBJ)/.config ] || echo "kernel: arch/lkl/configs/defconfig$(if $(FRAGMENT), or $(FRAGMENT).config) changed: configuring again"; \
		$(KMAKE) defconfig $(if $(FRAGMENT),$(FRAGMENT).config) $(QUIET); \
		if [ -n "$$fragment" ]; then \
			missing=$$(grep -E '^CONFIG_[A-Z0-9_]+=' $$fragment | { grep -vxFf $(KOBJ)/.config || true; } | xargs); \
			[ -z "$$missing" ] || { echo "error: FRAGMENT=$(FRAGMENT): not in the resulting .config: $$missing" >&2; exit 1; }; \
			echo "kernel: $(patsubst $(ROOT)/%,%,$(KOBJ)): defconfig + $(FRAGMENT).config"; \
		fi; \
	fi; \
	mv $(KOBJ)/.lkl-defconfig.new $(KOBJ)/.lkl-defconfig
	+$(Q)if $(kernel_up_to_date); then \
		echo "kernel: up to date (no change in $(patsubst $(ROOT)/%,%,$(SRC)) outside tools/lkl and tools/testing)"; \
	else \
		rm -f $(KSTAMP); echo "$(kernel_id)" >$(KSTAMP).new; \
		$(KMAKE) $(jobs); \
		$(KMAKE) $(jobs) headers_install INSTALL_HDR_PATH=$(KOBJ)/usr $(QUIET); \
		[ -f $(KOBJ)/lkl.o ] && [ -f $(KOBJ)/syscall_defs.txt ] || \
			{ echo "error: the kernel build made no lkl.o and syscall_defs.txt in $(KOBJ)" >&2; exit 1; }; \
		mv $(KSTAMP).new $(KSTAMP); \
		echo "kernel: $(patsubst $(ROOT)/%,%,$(KOBJ))/lkl.o ($$(du -h $(KOBJ)/lkl.o | cut -f1)), $$(wc -l <$(KOBJ)/syscall_defs.txt) syscalls"; \
	fi

headers: kernel
	$(Q)$(ROOT)/scripts/headers.sh $(SRC) $(KOBJ) $(INCLUDE) $(JOBS)
ifneq ($(OUT),$(BUILD)/lkl$(VARIANT))
	@# Every output dir is a complete LKL_BUILD_DIR (include/, lib/, tests/, bin/).
	$(Q)mkdir -p $(OUT) && ln -sfn ../lkl$(VARIANT)/include $(OUT)/include
endif

host: headers
	$(Q)[ -f $(SRC)/tools/lkl/CMakeLists.txt ] || { echo "error: tools/lkl/CMakeLists.txt is missing" >&2; exit 1; }
	$(Q)if [ ! -f $(HOSTB)/CMakeCache.txt ] || [ "$$(cat $(HOSTB)/.lkl-cmake-args 2>/dev/null)" != "$(CMAKE_ARGS)" ]; then \
		cmake $(CMAKE_ARGS) $(QUIET) && echo "$(CMAKE_ARGS)" >$(HOSTB)/.lkl-cmake-args; \
	fi
	+$(Q)cmake --build $(HOSTB) $(CMAKE_V) $(if $(jobs),-j $(JOBS)) \
		$(if $(filter 1,$(V)),,| { grep -v '^\[ *[0-9]*%\] Built target' || true; })

test: all
	$(Q)LKL_OUT=$(OUT) LKL_SRC=$(SRC) LKL_RESULTS=$(RESULTS) LKL_SANITIZE=$(SANITIZE) \
		$(ROOT)/scripts/run-tests.sh

# Not part of test: TCP_RR/TCP_STREAM over every path the machine allows, as a table and JSON,
# and the system-call table. --tick builds the FRAGMENT=hz-periodic variant (through this
# Makefile, with $(JOBS) jobs) to compare the tick modes.
bench: all
	$(Q)LKL_OUT=$(OUT) LKL_JOBS=$(JOBS) $(ROOT)/scripts/bench.sh $(ARGS)

# The demo (boot, banner, getpid latency), then TCP served and measured by the library's stack
# next to the host's, over each one's loopback (make bench covers the network paths).
RUN_TCP := -t TCP_RR,TCP_STREAM -n 20000 -w 1000 -b 512M
run: all
	$(Q)for b in lkl-demo lkl-perf; do [ -x $(OUT)/bin/$$b ] || { echo "error: $(OUT)/bin/$$b was not built" >&2; exit 1; }; done
	$(Q)$(OUT)/bin/lkl-demo $(ARGS)
	$(Q)echo "== TCP over loopback: host kernel, then the library (lkl-perf loopback $(RUN_TCP))"
	$(Q)$(OUT)/bin/lkl-perf loopback -s host $(RUN_TCP)
	$(Q)$(OUT)/bin/lkl-perf loopback -s lkl $(RUN_TCP)

# The CMake install rules of tools/lkl, and a manifest for uninstall:
# $(PREFIX)/share/lkl/install_manifest.txt.
install: all
	$(Q)$(if $(PREFIX_DEFAULT),echo "install: PREFIX not set: installing into $(PREFIX)")
	$(Q)$(ROOT)/scripts/install.sh install $(HOSTB) "$(PREFIX)" "$(DESTDIR)"

uninstall:
	$(Q)$(ROOT)/scripts/install.sh uninstall "$(PREFIX)" "$(DESTDIR)"

# Outputs only: the assembled tree (which may hold work in progress) and the
# caches stay.
clean:
	$(Q)rm -rf $(BUILD)/kobj $(BUILD)/host $(BUILD)/host-asan $(BUILD)/lkl $(BUILD)/lkl-asan \
		$(BUILD)/test-results $(BUILD)/test-results-asan $(BUILD)/.lkl/headers.stamp \
		$(wildcard $(BUILD)/kobj-* $(BUILD)/host-* $(BUILD)/lkl-* $(BUILD)/test-results-* \
			$(BUILD)/.lkl/headers-*.stamp)

# Deletes $(BUILD) only if it holds nothing but what the build makes.
BUILD_ENTRIES := linux|linux\.tmp\..*|kobj|kobj-.*|host|host-.*|lkl|lkl-.*|test-results|test-results-.*|\.lkl|bench
distclean:
	$(Q)if [ -d $(BUILD) ]; then \
		other=$$(ls -A $(BUILD) | { grep -vxE '$(BUILD_ENTRIES)' || true; } | head -n 3 | xargs); \
		[ -z "$$other" ] || { echo "error: $(BUILD) holds files the build did not make ($$other): not deleting it" >&2; exit 1; }; \
	fi
	$(Q)FORCE=$(FORCE) $(ROOT)/scripts/assemble.sh --check-clean
	$(Q)rm -rf $(BUILD)

# Also the base cache and the compiler cache (other users of $(LKL_CACHE) are left alone).
distclean-cache: distclean
	$(Q)rm -rf $(LKL_CACHE)/base $(if $(filter $(LKL_CACHE)/%,$(CCACHE_DIR)),$(CCACHE_DIR))

help:
	@echo "Targets:"
	@echo "  all (default)    verify the base, assemble build/linux, build the kernel, headers and liblkl"
	@echo "  test             all, then every GoogleTest binary and the lkl kselftests (scripts/run-tests.sh);"
	@echo "                   the last line is 'N passed, N failed, N skipped'"
	@echo "  bench            all, then scripts/bench.sh \$$ARGS: lkl-perf TCP_RR/TCP_STREAM, host vs library,"
	@echo "                   table of ratios, offload ladder, build/bench/bench.json and charts"
	@echo "                   (ARGS=--quick for a short run; --help lists the options), and the"
	@echo "                   system-call table (build/bench/syscall.json; ARGS=--tick adds the"
	@echo "                   periodic-tick kernel)"
	@echo "  run              all, then build/lkl/bin/lkl-demo \$$ARGS and TCP_RR/TCP_STREAM over the"
	@echo "                   loopback of the host and of the library (lkl-perf)"
	@echo "  deps base tree kernel headers host   the steps of all, each with the ones before it"
	@echo "  install          all, then install liblkl.a, liblkl.so, the headers and lkl.pc under"
	@echo "                   \$$DESTDIR\$$PREFIX, listed in \$$PREFIX/share/lkl/install_manifest.txt"
	@echo "  uninstall        remove what install put under \$$DESTDIR\$$PREFIX (from that manifest)"
	@echo "  clean            remove build outputs; keep build/linux and the caches"
	@echo "  distclean        remove \$$BUILD (refuses if build/linux holds unsaved work; FORCE=1)"
	@echo "  distclean-cache  distclean, and remove the base and compiler caches"
	@echo "Variables:"
	@echo "  BUILD=dir        build directory (default: build)"
	@echo "  BASE_TARBALL=f   a kernel.org linux-6.12.y tarball instead of Debian's linux-source-6.12"
	@echo "  LKL_CACHE=dir    cache outside the tree (default: ~/.cache/lkl); CCACHE_DIR defaults to \$$LKL_CACHE/ccache"
	@echo "  SANITIZE=1       host side with ASan+UBSan in build/host-asan -> build/lkl-asan"
	@echo "  FRAGMENT=name    kernel variant: defconfig + arch/lkl/configs/name.config, built in"
	@echo "                   build/kobj-name, build/host-name -> build/lkl-name (e.g. hz-periodic)"
	@echo "  JOBS=n           parallel jobs (default: nproc)   V=1  verbose"
	@echo "  FORCE=1          overwrite overlay files edited in build/linux; distclean without checks"
	@echo "  PREFIX=dir       install/uninstall prefix (default: /usr/local)"
	@echo "  DESTDIR=dir      install/uninstall under dir\$$PREFIX (staging for packages)"

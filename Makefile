# featrd — one Makefile for the library, the CLI, tests, sanitizers and benchmarks.
#   make deps      install missing Debian packages (apt-get), < 1 s when all present
#   make           build build/libfeatrd.a and bin/featrd
#   make test      build and run every test, then the fast ones again from a debug build
#                  without -DNDEBUG (build-debug/); closing line, over both: "N passed, N failed"
#   make sanitize  the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make coverage  the tests on a gcc --coverage build (build-cov/), then line coverage of src/
#   make valgrind  the fast tests under valgrind memcheck
#   make bench     speed figures, measured side by side in one run
#   make fuzz      libFuzzer targets (clang, ASan+UBSan) for every reader, FUZZ_SECONDS each
#   make run       the built-in demo: data, models, sweep, results/demo/
#   make install   bin/featrd, libfeatrd.a, headers, featrd.pc, gnuplot scripts and the
#                  man page under PREFIX (/usr/local), DESTDIR for staging
#   make darknet-gpu  a CUDA libdarknet from Debian's darknet source (apt-get source,
#                  patches in tools/darknet-gpu/) in build-darknet-gpu/; needs nvcc
#   make GPU=1     featrd against it: build-gpu/, bin-gpu/featrd (docs/gpu.md)
#   make test-gpu  the GPU build's tests (tests/test_gpu, test_model); GPU parts skip
#                  with "no GPU: skipped" on machines without one

# `make` alone builds (install's rule comes first in this file)
.DEFAULT_GOAL := all

# GPU=1: the same sources against the CUDA libdarknet of `make darknet-gpu`,
# built apart (build-gpu/, bin-gpu/featrd); the CPU build is the default.
GPU             ?= 0
CUDA_HOME       ?= /usr/local/cuda
DARKNET_GPU_DIR ?= build-darknet-gpu
ifeq ($(GPU),1)
DARKNET_DIR ?= $(abspath $(DARKNET_GPU_DIR))
BUILD       ?= build-gpu
-include $(DARKNET_GPU_DIR)/darknet-gpu.mk
endif
DARKNET_DIR ?= /usr/lib/darknet
BUILD       ?= build
CC          ?= cc
OPT         ?= -O2 -g
# The shipped build defines NDEBUG (assert() and #ifndef NDEBUG code out);
# NDEBUG=0 keeps them (make test's second pass, build-debug/).
NDEBUG      ?= 1
PKGS        := x265 libde265 gsl yaml-0.1 aom libjxl libopenjp2 charls

DEB_PKGS := darknet libx265-dev libde265-dev libgsl-dev libyaml-dev zlib1g-dev \
            libbz2-dev liblzma-dev libzstd-dev libopenblas-dev gnuplot-nox \
            dataset-fashion-mnist pkg-config libcmocka-dev valgrind libde265-examples \
            libaom-dev libjxl-dev libopenjp2-7-dev libcharls-dev libdav1d-dev

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null))

CFLAGS  += -std=c11 $(OPT) $(if $(filter 1,$(NDEBUG)),-DNDEBUG) -Wall -Wextra -Iinclude -Isrc -I$(DARKNET_DIR)/include \
           -DFR_PLOTS_DIR='"$(abspath plots)"' \
           -I/usr/include/x86_64-linux-gnu/openblas-pthread $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  += -L$(DARKNET_DIR) -Wl,-rpath,$(DARKNET_DIR) -ldarknet $(PKG_LIBS) \
           -lopenblas -lz -lbz2 -llzma -lzstd -lpthread -lm $(EXTRA_LDLIBS)
LDFLAGS += $(EXTRA_LDFLAGS)
ifeq ($(GPU),1)
# darknet.h adds struct fields under GPU and CUDNN: featrd must see the same
# defines as the libdarknet it links (darknet-gpu.mk says whether cuDNN is in)
GPU_INC := -I$(CUDA_HOME)/include
CFLAGS  += -DGPU $(if $(filter 1,$(DARKNET_CUDNN)),-DCUDNN) $(GPU_INC)
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lcurand \
           $(if $(filter 1,$(DARKNET_CUDNN)),-lcudnn)
endif

# find, not wildcard: the library may grow subdirectories (src/*/); the CLI is src/cli/.
# src/demo/ (the demo data set) and src/train/ (darknet training) are not in
# the core library: they are libfeatrd-train.a, which the CLI and the tests
# link beside it (the core never calls them; test_registry checks that).
TRAIN_DIRS := src/demo src/train
LIB_SRC  ?= $(sort $(shell find src -name '*.c' -not -path 'src/cli/*' $(TRAIN_DIRS:%=-not -path '%/*')))
TRAIN_SRC:= $(sort $(shell find $(TRAIN_DIRS) -name '*.c'))
CLI_SRC  := $(sort $(shell find src/cli -name '*.c'))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/bench_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TRAIN_OBJ:= $(TRAIN_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libfeatrd.a
TRAIN_LIB:= $(BUILD)/libfeatrd-train.a
BIN      := $(if $(filter 1,$(GPU)),bin-gpu/featrd,bin/featrd)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# `make` alone builds bin/featrd (install, defined next, is not the default)
.DEFAULT_GOAL := all

.PHONY: install
PREFIX  ?= /usr/local
INSTALL_PKGS := $(filter-out gsl,$(PKGS))
install: $(BIN) $(LIB) $(TRAIN_LIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/featrd $(DESTDIR)$(PREFIX)/share/featrd/plots \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/featrd
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libfeatrd.a
	install -m 644 $(TRAIN_LIB) $(DESTDIR)$(PREFIX)/lib/libfeatrd-train.a
	install -m 644 include/featrd.h $(DESTDIR)$(PREFIX)/include/featrd.h
	install -m 644 include/featrd/*.h $(DESTDIR)$(PREFIX)/include/featrd/
	install -m 644 plots/*.gp $(DESTDIR)$(PREFIX)/share/featrd/plots/
	install -m 644 share/featrd.1 $(DESTDIR)$(PREFIX)/share/man/man1/featrd.1
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PKGS@|$(INSTALL_PKGS)|' -e 's|@DARKNET_DIR@|$(DARKNET_DIR)|g' \
	  -e "s|@VERSION@|$$(sed -n 's/.*FR_VERSION_STRING \"\(.*\)\"/\1/p' include/featrd/common.h)|" \
	  share/featrd.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/featrd.pc
	@echo "make install: featrd in $(DESTDIR)$(PREFIX)/bin; pkg-config featrd (PKG_CONFIG_PATH=$(DESTDIR)$(PREFIX)/lib/pkgconfig)"

.PHONY: all deps deps-test test sanitize coverage valgrind bench run clean demo-data models help train-models fuzz fuzz-build darknet-gpu test-gpu
all: $(BIN)

help:
	@sed -n '2,/^$$/p' Makefile | sed '$$d'

# What only the tests use: a real one-node Slurm cluster (tests/test_cluster.c
# starts and stops it). Installed by make test when possible; without it that
# test skips with a message instead of failing.
TEST_PKGS := slurm-wlm munge

deps-test:
	@missing=""; for p in $(TEST_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "make test: installing$$missing (the Slurm test)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	    echo "make test: could not install$$missing: tests/test_cluster.c will skip its Slurm part" >&2; \
	  else echo "make test: not root, so$$missing not installed: tests/test_cluster.c will skip its Slurm part" >&2; fi; \
	fi

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get) to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# A fresh machine without the -dev packages: say what to do instead of a
# compiler error about a missing header.
.PHONY: depcheck
depcheck:
	@if [ "$(GPU)" = 1 ] && [ ! -f $(DARKNET_DIR)/include/darknet.h ]; then \
	  echo "featrd: GPU=1 needs the CUDA libdarknet: run 'make darknet-gpu' (as root) first" >&2; exit 2; fi
	@pkg-config --exists $(PKGS) 2>/dev/null && [ -f $(DARKNET_DIR)/include/darknet.h ] || \
	  { echo "featrd: build dependencies are missing: run 'make deps' (as root) first" >&2; exit 2; }

$(LIB_OBJ) $(TRAIN_OBJ) $(CLI_OBJ): | depcheck

# Header dependencies: every compile writes <target>.d (the headers it read,
# from gcc/clang -MMD; -MP keeps a deleted header from stopping the build), and
# the .d files of this BUILD are included below, so touching one header
# rebuilds only what includes it. A target without its .d (built before the
# .d files existed) is rebuilt once: nothing says which headers it read.
DEPFLAGS = -MMD -MP -MF $@.d -MT $@
NODEP    = $$(if $$(wildcard $$@.d),,FORCE)
.PHONY: FORCE
FORCE:
.SECONDEXPANSION:

$(BUILD)/%.o: %.c $(NODEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# The CLI sees the public headers only (include/): no -Isrc, no outside
# library's include path, so an internal header there is a compile error.
$(CLI_OBJ): CFLAGS := $(filter-out -Isrc -I$(DARKNET_DIR)/include $(GPU_INC),$(CFLAGS))

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(TRAIN_LIB): $(TRAIN_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# --whole-archive: the OpenBLAS gemm_cpu override in model.o must be in every
# executable so it interposes on libdarknet's own (see DESIGN.md).
# libfeatrd-train.a comes first: it calls the core, not the other way round.
WHOLE := $(TRAIN_LIB) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive

$(BIN): $(CLI_OBJ) $(LIB) $(TRAIN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $(CLI_OBJ) $(WHOLE) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB) $(TRAIN_LIB) $(NODEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests $(LDFLAGS) $< $(WHOLE) $(LDLIBS) -lcmocka -o $@

# test_codec_av1 decodes libaom's streams with a second AV1 decoder, dav1d
# (the library itself does not use it).
$(BUILD)/tests/test_codec_av1: LDLIBS += $(shell pkg-config --libs dav1d 2>/dev/null)

# test_run types ^C on a pseudo-terminal (forkpty: libutil on older glibc).
$(BUILD)/tests/test_run: LDLIBS += -lutil

$(BUILD)/bench/%: bench/%.c $(LIB) $(TRAIN_LIB) $(NODEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(WHOLE) $(LDLIBS) -o $@

# make test also builds the library, the CLI and the tests without NDEBUG
# (the shipped build defines it), as jsmn runs its tests under each
# compile-time option: whatever assert() or #ifndef NDEBUG code the library
# and tests gain is compiled in there, and the results must not change. Only
# the fast tests run there (the slow end-to-end ones are the same code paths
# at ~2 min).
SLOW_TESTS  := test_export test_model test_run test_voc test_cluster test_kernels
DEBUG_TESTS := $(filter-out $(SLOW_TESTS:%=build-debug/tests/%),$(TESTS:$(BUILD)/%=build-debug/%))

test: deps deps-test
	@if [ "$(GPU)" = 1 ]; then echo "make test: the CPU build's tests; the GPU build's are make test-gpu" >&2; exit 2; fi
	@$(MAKE) --no-print-directory $(BIN) $(TESTS)
	@$(MAKE) --no-print-directory BUILD=build-debug NDEBUG=0 \
	  BIN=build-debug/featrd build-debug/featrd $(DEBUG_TESTS)
	@tests/run_tests.sh FEATRD_BIN=$(abspath $(BIN)) $(TESTS) \
	  FEATRD_BIN=$(abspath build-debug/featrd) $(DEBUG_TESTS)

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san OPT="-O1 -g" EXTRA_CFLAGS="$(SAN)" EXTRA_LDFLAGS="$(SAN)" BIN=build-san/featrd build-san/featrd $(TESTS:$(BUILD)/%=build-san/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 FEATRD_BIN=$(abspath build-san/featrd) FEATRD_SANITIZE=1 \
	  tests/run_tests.sh $(TESTS:$(BUILD)/%=build-san/%)

# -O0 so that every line gcov counts is one in the source; the counts of all
# processes (the tests, the featrd runs they start) add up in build-cov/**/*.gcda,
# cleared first. Exits with the tests' status after printing the summary.
COV := --coverage
coverage: deps
	@$(MAKE) --no-print-directory BUILD=build-cov OPT="-O0 -g" EXTRA_CFLAGS="$(COV)" EXTRA_LDFLAGS="$(COV)" BIN=build-cov/featrd build-cov/featrd $(TESTS:$(BUILD)/%=build-cov/%)
	@find build-cov -name '*.gcda' -delete
	@FEATRD_BIN=$(abspath build-cov/featrd) tests/run_tests.sh $(TESTS:$(BUILD)/%=build-cov/%); rc=$$?; \
	  tools/coverage.sh build-cov && exit $$rc

valgrind: deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTS)
	@FEATRD_BIN=$(abspath $(BIN)) FEATRD_VALGRIND=1 tests/run_tests.sh $(TESTS)

# libFuzzer targets (fuzz/fuzz_*.c) against the library built with clang and
# ASan+UBSan; tools/fuzz.sh seeds each corpus from shipped files and prints
# executions and coverage per target (docs/reliability.md).
FUZZ_SECONDS ?= 10
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=build-fuzz/fuzz/%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

build-fuzz/fuzz/%: fuzz/%.c $(LIB) $(TRAIN_LIB) $(NODEP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer $(LDFLAGS) $< $(WHOLE) $(LDLIBS) -o $@

fuzz-build:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS) clang"
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz OPT="-O1 -g" \
	  EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" EXTRA_LDFLAGS="$(FUZZ_SAN)" $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz.sh $(FUZZ_BIN)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# A CUDA libdarknet from Debian's own darknet source package (docs/gpu.md);
# CUDNN=auto|0|1 (auto: when cudnn.h is there), CUDA_HOME.
darknet-gpu:
	@CUDA_HOME=$(CUDA_HOME) CUDNN=$(or $(CUDNN),auto) tools/darknet-gpu.sh $(DARKNET_GPU_DIR)

# The GPU build's tests: test_gpu (GPU vs CPU; "no GPU: skipped" without a
# device) and test_model (the CPU path of the CUDA libdarknet, device cpu).
GPU_TESTS := build-gpu/tests/test_gpu build-gpu/tests/test_model
test-gpu:
	@$(MAKE) --no-print-directory GPU=1 bin-gpu/featrd $(GPU_TESTS)
	@tests/run_tests.sh FEATRD_BIN=$(abspath bin-gpu/featrd) $(GPU_TESTS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@tools/demo.sh

# Retrains the demo models from scratch (~45 min on 2 idle cores; see models/README.md).
train-models: deps
	@$(MAKE) --no-print-directory $(BIN)
	@FEATRD_BIN=$(abspath $(BIN)) tools/train_models.sh

clean:
	rm -rf build build-san build-fuzz build-ndebug build-debug build-cov bin build-gpu bin-gpu

# test_fuzz includes fuzz/*.c: its .d names them like any header.
-include $(wildcard $(LIB_OBJ:=.d) $(TRAIN_OBJ:=.d) $(CLI_OBJ:=.d) $(TESTS:=.d) $(BENCHES:=.d) $(FUZZ_BIN:=.d))

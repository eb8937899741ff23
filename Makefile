# tickinfer build.  `make` builds the library and CLI (build/release/).
#   make test      install deps, build release + ASan/UBSan, run all tests + fuzz replay
#   make demo      install deps, build, ingest the bundled data, print stats + baselines
#   make SANITIZE=1   build into build/asan with AddressSanitizer + UBSan
#   make fuzz FUZZER=parquet   build fuzz/<name>.c as a libFuzzer binary (clang) and run it
#   make bench     benchmarks (long; not part of test)
SHELL := /bin/bash
.DEFAULT_GOAL := all

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
  BUILD ?= build/asan
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
  BUILD ?= build/release
  OPT := -O2 -g
endif

CC ?= gcc
ifeq ($(origin CC),default)
  CC := gcc
endif
WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla -Wcast-qual \
        -Wmissing-prototypes
# Warnings are errors in CI (CI=true in the environment) or on request (WERROR=1).
ifneq ($(filter true 1,$(CI))$(filter 1,$(WERROR)),)
  WARN += -Werror
endif
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(WARN) $(OPT) -Iinclude -Isrc -MMD -MP -I$(BUILD)/gen
# Test helpers (harness.h, fixtures) are visible to test, fuzz and bench programs only,
# never to the library or the CLI.
TEST_INC := -Itests
LDLIBS := -lmicrohttpd -lprotobuf-c -lzstd -lsnappy -lz -ljansson -lm -lpthread

# Per-ISA flags by file-name suffix: one portable binary, code paths picked at run time.
FLAGS_AVX2 := -mavx2 -mfma -mf16c
FLAGS_AVX512 := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
FLAGS_AVX512BF16 := $(FLAGS_AVX512) -mavx512bf16 -mavx512vnni

# libtickinfer.a: the embeddable core (no load generator; CUDA kernels in their own archive).
LIB_SRCS := $(shell find src -name '*.c' -not -path '*/cuda/*' -not -path 'src/loadgen/*' | sort)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
LIB := $(BUILD)/libtickinfer.a

# The load generator (`tickinfer bench`): its own archive, linked by the CLI, its tests and
# the benches, never part of libtickinfer.a.
LOADGEN_SRCS := $(sort $(wildcard src/loadgen/*.c))
LOADGEN_OBJS := $(LOADGEN_SRCS:%.c=$(BUILD)/obj/%.o)
LOADGEN_LIB := $(BUILD)/libtickinfer_loadgen.a

CLI_SRCS := $(wildcard tools/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
CLI := $(BUILD)/tickinfer

TEST_COMMON_SRCS := $(wildcard tests/common/*.c)
TEST_COMMON_OBJS := $(TEST_COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(shell find tests -name 'test_*.c' | sort)
TEST_BINS := $(TEST_SRCS:%.c=$(BUILD)/%)

FUZZ_SRCS := $(filter-out fuzz/replay_main.c,$(wildcard fuzz/*.c))
FUZZ_REPLAY_BINS := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%_replay)

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

# ---- CUDA backend (src/kernels/cuda/*.cu, built by nvcc when it is installed) -----------
# With nvcc: the kernels go into $(BUILD)/libtickinfer_cuda.a (sm_80, sm_90 + PTX for newer
# GPUs), linked with cudart/cuBLAS into every program, and C code sees TI_HAVE_CUDA=1.  The
# .cu files never get the sanitizer flags (nvcc host code + ASan runtime do not mix); the
# ASan programs still link them.  Without nvcc: a stub returns TI_ERR_UNSUPPORTED.
NVCC ?= $(shell command -v nvcc || echo /usr/local/cuda/bin/nvcc)
CUDA_SRCS := $(sort $(wildcard src/kernels/cuda/*.cu src/kernels/taskq/cuda/*.cu))
CUDA_ON := $(if $(wildcard $(NVCC)),1,)
ifneq ($(filter fuzz,$(MAKECMDGOALS)),)
  CUDA_ON := # the clang fuzzers never call CUDA: keep cudart out of their link
endif
ifeq ($(CUDA_ON),1)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(realpath $(NVCC)))
  CUDA_LIB := $(BUILD)/libtickinfer_cuda.a
  CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/obj/%.cu.o)
  NVCC_FLAGS := -std=c++17 -O3 -Xcompiler -fPIC,-Wall,-Wextra,-Wno-unused-parameter -Iinclude -Isrc \
                -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
  CFLAGS_BASE += -DTI_HAVE_CUDA=1 -DTI_CUDA_LIB_PATH='"$(CUDA_LIB)"' \
                 -DTI_CUDA_RES_PATH='"$(BUILD)/cuda_resource_usage.txt"'
  # libtickinfer.a is named again after the CUDA archive, which calls back into it (errors).
  LDLIBS := $(CUDA_LIB) $(LIB) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
            -lcublas -lcudart -lstdc++ $(LDLIBS)
  CUDA_RES := $(CUDA_OBJS:%.o=%.res)
  # One nvcc run makes both the object and its ptxas listing (a pattern rule's targets).
  $(BUILD)/obj/%.cu.o $(BUILD)/obj/%.cu.res: %.cu \
      src/kernels/cuda/cuda_internal.cuh include/tickinfer/cuda.h include/tickinfer/kernels.h \
      include/tickinfer/err.h include/tickinfer/transformer.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) --resource-usage -c $< -o $(@:.res=.o) 2>$(@:.o=.res) || \
	  { cat $(@:.o=.res) >&2; exit 1; }
	@grep -v -e '^ptxas info' -e 'bytes stack frame' $(@:.o=.res) >&2 || true
  # The ptxas listing (registers, shared memory, spills per kernel and arch) is kept next to
  # the archive; tests/cuda/test_cuda_build.c checks it, so the build is verified without a GPU.
  $(CUDA_LIB): $(CUDA_OBJS) $(CUDA_RES)
	@rm -f $@
	ar rcs $@ $(CUDA_OBJS)
	cat $(CUDA_RES) > $(BUILD)/cuda_resource_usage.txt
  $(CLI) $(TEST_BINS) $(FUZZ_REPLAY_BINS) $(BENCH_BINS): $(CUDA_LIB)
  CUDA_BENCH_BINS := $(patsubst bench/cuda/%.c,$(BUILD)/bench/cuda/%,$(wildcard bench/cuda/*.c))
  $(BUILD)/bench/cuda/%: $(BUILD)/obj/bench/cuda/%.o $(LOADGEN_LIB) $(LIB) $(CUDA_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $< $(LOADGEN_LIB) $(LIB) $(LDLIBS) -o $@
else
  LIB_OBJS += $(BUILD)/obj/src/kernels/cuda/cuda_stub.o
  CFLAGS_BASE += -DTI_CUDA_LIB_PATH='"$(LIB)"'
  CUDA_BENCH_BINS :=
endif
.PHONY: cuda-benches
cuda-benches: $(CUDA_BENCH_BINS)

.PHONY: all lib loadgen cli tests fuzz-replay benches deps venv test demo bench bench-quick bench-peers bench-stream fuzz clean help

all: $(LIB) $(LOADGEN_LIB) $(CLI)
lib: $(LIB)
loadgen: $(LOADGEN_LIB)
cli: $(CLI)
tests: $(TEST_BINS)
fuzz-replay: $(FUZZ_REPLAY_BINS)
benches: $(BENCH_BINS)

define flags_for
$(CFLAGS_BASE) $(if $(findstring _avx512bf16.c,$1),$(FLAGS_AVX512BF16),$(if $(findstring _avx512.c,$1),$(FLAGS_AVX512),$(if $(findstring _avx2.c,$1),$(FLAGS_AVX2))))
endef

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(call flags_for,$<) $(EXTRA_INC) -c $< -o $@
$(BUILD)/obj/tests/%.o $(BUILD)/obj/fuzz/%.o $(BUILD)/obj/bench/%.o: EXTRA_INC := $(TEST_INC)

# Keep the objects of test, fuzz and bench programs (chained rules would delete them).
.SECONDARY:

# ONNX protobuf code: protoc-c generates it from Debian's libonnx-dev schema at build time
# (package onnx -> Onnx__ModelProto ...); only src/onnx/ includes the generated header.
ONNX_PROTO := /usr/include/onnx/onnx.proto
$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen --proto_path=$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(BUILD)/obj/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -c $< -o $@
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/onnx/*.c)): $(BUILD)/gen/onnx.pb-c.h

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(LOADGEN_LIB): $(LOADGEN_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LOADGEN_LIB) $(LIB)
	$(CC) $(OPT) -pthread $(CLI_OBJS) $(LOADGEN_LIB) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_COMMON_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $< $(TEST_COMMON_OBJS) $(LIB) $(LDLIBS) -o $@

# The load generator's tests link its archive (the shorter stem wins over the rule above).
$(BUILD)/tests/loadgen/%: $(BUILD)/obj/tests/loadgen/%.o $(TEST_COMMON_OBJS) $(LOADGEN_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $< $(TEST_COMMON_OBJS) $(LOADGEN_LIB) $(LIB) $(LDLIBS) -o $@

# test_serve_cli runs the CLI built next to the tests.
$(BUILD)/tests/serve/test_serve_cli: | $(CLI)

$(BUILD)/fuzz/%_replay: $(BUILD)/obj/fuzz/%.o $(BUILD)/obj/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LOADGEN_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $^ $(LDLIBS) -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- set-up (idempotent) ----------------------------------------------------------
PY := .venv/bin/python
deps:
	@bash mk/deps.sh

.venv/.stamp: requirements.txt mk/apt-packages.txt
	@bash mk/deps.sh
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages .venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

venv: .venv/.stamp

# ---- test ------------------------------------------------------------------------
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: venv
	$(MAKE) -j$(NPROC) all tests fuzz-replay
	$(MAKE) -j$(NPROC) SANITIZE=1 all tests fuzz-replay
	TI_PYTHON=$(CURDIR)/$(PY) bash tests/run_all.sh build/release build/asan

# ---- demo ------------------------------------------------------------------------
demo: venv
	$(MAKE) -j$(NPROC) all
	bash mk/demo.sh

# ---- bench -----------------------------------------------------------------------
bench: venv
	$(MAKE) -j$(NPROC) all benches
	bash bench/run_all.sh

bench-quick: venv
	$(MAKE) -j$(NPROC) all benches
	QUICK=1 bash bench/run_all.sh

bench-stream: all
	$(MAKE) -j$(NPROC) build/release/bench/stream
	build/release/bench/stream

bench-peers: venv
	$(MAKE) -j$(NPROC) all benches
	bash bench/tinyrv_peers.sh

# ---- libFuzzer (clang) -----------------------------------------------------------
FUZZER ?= parquet
FUZZ_TIME ?= 60
fuzz: deps
	$(MAKE) -j$(NPROC) CC=clang BUILD=build/fuzz OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" lib
	@mkdir -p build/fuzz/bin
	clang -O1 -g -fsanitize=fuzzer,address,undefined $(CFLAGS_BASE) $(TEST_INC) fuzz/$(FUZZER).c build/fuzz/libtickinfer.a $(LDLIBS) -o build/fuzz/bin/$(FUZZER)
	build/fuzz/bin/$(FUZZER) -max_total_time=$(FUZZ_TIME) fuzz/corpus/$(FUZZER)

clean:
	rm -rf build

help:
	@sed -n '1,8p' Makefile

# ---- embedding API: shared library, install, pkg-config, example ----------------------------
# Every object is built with -fvisibility=hidden; only the functions declared TI_API in
# include/tickinfer.h (defined in src/api/) are exported by libtickinfer.so (checked by
# tests/api/test_api_exports.c; static archives linked in, e.g. the CUDA one, stay hidden).
# `make install PREFIX=/usr/local DESTDIR=` installs both libraries, tickinfer.h (+ the
# header it includes) and tickinfer.pc.  `make tests` also installs into $(BUILD)/stage and
# builds examples/embed_stream.c against it with pkg-config (run by tests/api/test_embed.c).
CFLAGS_BASE += -fvisibility=hidden
TI_VERSION := $(shell sed -n 's/.*TI_VERSION_STRING "\(.*\)".*/\1/p' include/tickinfer/version.h)
SO := $(BUILD)/libtickinfer.so
SO_NAME := libtickinfer.so.$(firstword $(subst ., ,$(TI_VERSION)))
PREFIX ?= /usr/local
DESTDIR ?=
PUBLIC_HEADERS := include/tickinfer.h include/tickinfer/err_codes.h
# Libs.private: what a static link needs after -ltickinfer (LDLIBS without our own archives)
PC_LIBS_PRIVATE := $(if $(CUDA_LIB),-ltickinfer_cuda -ltickinfer) $(filter-out $(LIB) $(CUDA_LIB),$(LDLIBS))
EMBED_STAGE := $(abspath $(BUILD))/stage
EMBED_EXAMPLE := $(BUILD)/examples/embed_stream

all: $(SO)
tests: $(EMBED_EXAMPLE)

$(SO): $(LIB_OBJS) $(CUDA_LIB)
	$(CC) -shared $(OPT) -pthread -Wl,-soname,$(SO_NAME) -Wl,--exclude-libs,ALL -Wl,--no-undefined \
	  $(LIB_OBJS) $(filter-out $(LIB),$(LDLIBS)) -o $@

# $(1) = staging root (DESTDIR + prefix), $(2) = prefix written into tickinfer.pc
define ti_install
	install -d $(1)/lib/pkgconfig $(1)/include/tickinfer
	install -m 644 $(LIB) $(if $(CUDA_LIB),$(CUDA_LIB)) $(1)/lib/
	install -m 755 $(SO) $(1)/lib/libtickinfer.so.$(TI_VERSION)
	ln -sf libtickinfer.so.$(TI_VERSION) $(1)/lib/$(SO_NAME)
	ln -sf libtickinfer.so.$(TI_VERSION) $(1)/lib/libtickinfer.so
	install -m 644 include/tickinfer.h $(1)/include/
	install -m 644 include/tickinfer/err_codes.h $(1)/include/tickinfer/
	printf '%s\n' 'prefix=$(2)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
	  'includedir=$${prefix}/include' '' 'Name: tickinfer' \
	  'Description: low-latency inference engine for trading models (embedding API)' \
	  'Version: $(TI_VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -ltickinfer' \
	  'Libs.private: $(PC_LIBS_PRIVATE)' > $(1)/lib/pkgconfig/tickinfer.pc
endef

.PHONY: install
install: $(LIB) $(SO)
	$(call ti_install,$(DESTDIR)$(PREFIX),$(PREFIX))

$(EMBED_STAGE)/.stamp: $(LIB) $(SO) $(PUBLIC_HEADERS) Makefile
	$(call ti_install,$(EMBED_STAGE),$(EMBED_STAGE))
	@touch $@

# Built only from the installed copy: tickinfer.h and pkg-config, no -Iinclude.
$(EMBED_EXAMPLE): examples/embed_stream.c $(EMBED_STAGE)/.stamp
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror $(OPT) $< \
	  $$(PKG_CONFIG_PATH=$(EMBED_STAGE)/lib/pkgconfig pkg-config --cflags --libs tickinfer) \
	  -Wl,-rpath,$(EMBED_STAGE)/lib -o $@

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
WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(WARN) $(OPT) -Iinclude -Isrc -Itests -MMD -MP -I$(BUILD)/gen
LDLIBS := -lmicrohttpd -lprotobuf-c -lzstd -lsnappy -lz -ljansson -lm -lpthread

# Per-ISA flags by file-name suffix: one portable binary, code paths picked at run time.
FLAGS_AVX2 := -mavx2 -mfma -mf16c
FLAGS_AVX512 := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
FLAGS_AVX512BF16 := $(FLAGS_AVX512) -mavx512bf16 -mavx512vnni

LIB_SRCS := $(shell find src -name '*.c' -not -path 'src/kernels/cuda/*' | sort)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
LIB := $(BUILD)/libtickinfer.a

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

.PHONY: all lib cli tests fuzz-replay benches deps venv test demo bench bench-peers bench-stream fuzz clean help

all: $(LIB) $(CLI)
lib: $(LIB)
cli: $(CLI)
tests: $(TEST_BINS)
fuzz-replay: $(FUZZ_REPLAY_BINS)
benches: $(BENCH_BINS)

define flags_for
$(CFLAGS_BASE) $(if $(findstring _avx512bf16.c,$1),$(FLAGS_AVX512BF16),$(if $(findstring _avx512.c,$1),$(FLAGS_AVX512),$(if $(findstring _avx2.c,$1),$(FLAGS_AVX2))))
endef

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(call flags_for,$<) -c $< -o $@

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

$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(OPT) -pthread $(CLI_OBJS) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_COMMON_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $< $(TEST_COMMON_OBJS) $(LIB) $(LDLIBS) -o $@

$(BUILD)/fuzz/%_replay: $(BUILD)/obj/fuzz/%.o $(BUILD)/obj/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -pthread $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
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
	clang -O1 -g -fsanitize=fuzzer,address,undefined $(CFLAGS_BASE) fuzz/$(FUZZER).c build/fuzz/libtickinfer.a $(LDLIBS) -o build/fuzz/bin/$(FUZZER)
	build/fuzz/bin/$(FUZZER) -max_total_time=$(FUZZ_TIME) fuzz/corpus/$(FUZZER)

clean:
	rm -rf build

help:
	@sed -n '1,8p' Makefile

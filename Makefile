# HeteroAccel — one entry point for people and CI.
#   make setup   install missing Debian packages, fetch and verify the models
#   make build   configure and build (build/), the dashboard (web/dist) first
#   make test    setup + build + every test (unit, end-to-end)
#   make demo    setup + build + an agent serving real images on every device
# CI additionally runs `make test-sanitize` (the unit tests under ASan+UBSan,
# built with clang), `make test-tsan`
# (ThreadSanitizer over the HTTP server, whose connections are written from
# several threads) and `make fuzz` (each fuzzer for FUZZ_SECONDS).

BUILD        ?= build
BUILD_ASAN   ?= build-asan
BUILD_FUZZ   ?= build-fuzz
BUILD_TSAN   ?= build-tsan
MODELS_DIR   ?= models
BUILD_TYPE   ?= RelWithDebInfo
FUZZ_SECONDS ?= 60
# What the fuzzers link: the protocol parser (infer_request_fuzzer), and the
# HTTP layer with the agent's and the server's route tables and what is behind
# them (http_request_fuzzer; no gRPC), including the capacity planner and the
# simulator it runs (client, loadgen, sim, plan).
FUZZ_COMPONENTS ?= common;devices;metrics;node;protocol;inference;api;runtime;http;scheduler;cluster;httpapi;k8s;agent;client;loadgen;server;sim;plan;video;pipeline;events;repository;cameras
FUZZERS      ?= infer_request http_request camera_spec scenario
JOBS         ?= $(shell nproc)
CMAKE_FLAGS  ?=

.PHONY: all setup packages models web build test test-browser test-sim test-netns unit-test test-sanitize test-tsan fuzz demo bench clean k8s-validate-deps image test-image

all: build

packages:
	@tools/install_packages.sh

models: packages
	@tools/setup/fetch_models.sh $(MODELS_DIR)

setup: packages models

$(BUILD)/build.ninja: | packages web
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

# The dashboard: npm packages from the lockfile (again only when it changed),
# then Vite builds web/dist, which the server embeds.
web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm (Node.js >= 20.19) is needed to build the dashboard" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cd web && npm run build --silent

build: $(BUILD)/build.ninja web
	cmake --build $(BUILD) -j $(JOBS)

# The Kubernetes manifests' validator (tools/k8s-validate): npm packages from
# its lockfile, again only when the lockfile changed.
tools/k8s-validate/node_modules/.package-lock.json: tools/k8s-validate/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm (Node.js >= 20) is needed to validate deploy/k8s" >&2; exit 1; }
	cd tools/k8s-validate && npm ci --no-audit --no-fund

k8s-validate-deps: tools/k8s-validate/node_modules/.package-lock.json

test: setup build k8s-validate-deps
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE 'browser|image|sim|netns'

# The container image as an OCI layout in $(IMAGE_DIR)/oci (deploy/image/build_oci.sh:
# mmdebstrap + umoci, no container engine; needs root and the Debian mirror).
# Root is needed (files owned by root and uid 65532; chroot): sudo when not root.
IMAGE_DIR ?= $(BUILD)/image
SUDO      := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
image: packages build
	$(SUDO) deploy/image/build_oci.sh $(BUILD)/bin/heteroaccel $(IMAGE_DIR)

# The image run from its root filesystem: --version, a server and an agent
# answering a real inference (tests/k8s/image; root).
test-image: setup image
	$(SUDO) env HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) HETEROACCEL_IMAGE_LAYOUT=$(abspath $(IMAGE_DIR))/oci \
	  ctest --test-dir $(BUILD) --output-on-failure -L image

# The dashboard in Debian's Chromium (tests/browser): a real server, agents and
# cameras, one test at a time.
test-browser: setup build
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) ctest --test-dir $(BUILD) --output-on-failure -L browser

# The simulator and the planner against real clusters of emulated agents
# (tests/sim): timing comparisons, so one test at a time on a quiet machine.
test-sim: setup build
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) ctest --test-dir $(BUILD) --output-on-failure -L sim

# Fleet operations across hosts (tests/e2e/netns_e2e_test.cc): the server and
# agents in their own network namespaces on a bridge; root, one test at a time.
test-netns: setup build
	$(SUDO) env HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) ctest --test-dir $(BUILD) --output-on-failure -L netns

unit-test: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit -j $(JOBS)

# Built with clang: it compiles this unoptimised instrumented build 1.6x as fast
# as GCC (13 sources, one at a time: 51 s against 84 s), and checks a second
# compiler's rules.
test-sanitize: setup
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
	  -DHETEROACCEL_SANITIZE=ON -DHETEROACCEL_EXTRAS=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(abspath tools/sanitizers/lsan.supp) \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -L unit -j $(JOBS)

test-tsan: packages
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHETEROACCEL_TSAN=ON \
	  "-DHETEROACCEL_ONLY=common;testing;http"
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target http_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(BUILD_TSAN)/bin/http_test

# Each fuzzer runs FUZZ_SECONDS from its seed corpus (src/fuzz/corpus/NAME,
# copied to $(BUILD_FUZZ)/corpus/NAME, where what it finds accumulates) with
# src/fuzz/NAME.dict.
fuzz: packages
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHETEROACCEL_FUZZ=ON "-DHETEROACCEL_ONLY=$(FUZZ_COMPONENTS)"
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(addsuffix _fuzzer,$(FUZZERS))
	set -e; for f in $(FUZZERS); do \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$f && cp src/fuzz/corpus/$$f/* $(BUILD_FUZZ)/corpus/$$f/; \
	  $(BUILD_FUZZ)/bin/$${f}_fuzzer -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	    -max_len=65536 -timeout=60 -dict=src/fuzz/$$f.dict $(BUILD_FUZZ)/corpus/$$f; \
	done

# DEMO_SECONDS: how long the cluster stays up after the tour, serving replayed
# cameras with the dashboard (-1: until Ctrl-C, or, without a terminal on
# stdin, not at all; 0: stop right after the tour).
DEMO_SECONDS ?= -1
demo: setup build
	$(BUILD)/bin/agent_demo $(BUILD)/bin/heteroaccel $(MODELS_DIR) $(BUILD)/demo $(DEMO_SECONDS)

bench: setup build
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) $(BUILD)/bin/agent_overhead
	HETEROACCEL_MODELS_DIR=$(abspath $(MODELS_DIR)) $(BUILD)/bin/server_overhead

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN)

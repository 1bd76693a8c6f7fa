# Permiso: the two commands a newcomer needs (`make run`, `make test`) and a few more.
SHELL := /bin/bash
.DEFAULT_GOAL := help

JOBS ?= $(shell nproc)
# Cache compiles across clones and CI runs: paths are rewritten relative to the checkout.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
export CCACHE_MAXSIZE ?= 5G

RELEASE_DIR := build/release
ASAN_DIR := build/asan
AUTH_BIN := $(RELEASE_DIR)/apps/permiso-auth/permiso-auth

.PHONY: help bootstrap build build-asan web web-check run run-cluster test test-unit test-integration compose-check compose-test images bench load-test fuzz fmt fmt-check layering-check naming-check systemd-check prometheus-check tidy clean

help:
	@echo "make run    - install what is missing, build (Release) and start Permiso"
	@echo "make run-cluster - the same scaled out: two permiso-auth and two mt5-api replicas, PostgreSQL, Redis, mt5-sim"
	@echo "make test   - install what is missing, build (ASan+UBSan) and run every test"
	@echo "make compose-test - build the container images and run the seed's flows on the compose stack"
	@echo "make bench  - build (Release), run the benchmark suite, write docs/benchmarks-suite.md (BENCH_SECONDS)"
	@echo "make load-test - the seed's load test against a running stack (make run; LOAD_TEST_ARGS)"
	@echo "make fuzz   - build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (60)"
	@echo "make fmt    - clang-format the C++ sources (make fmt-check: only check)"

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

# The dashboard: web/dist, served by the front door at /.
web:
	@scripts/build-web

# The dashboard's lint, type check and unit tests, then its build (part of make test).
web-check:
	@scripts/build-web --check

run: build web
	@scripts/run-stack $(RELEASE_DIR)

run-cluster: build web
	@scripts/run-cluster $(RELEASE_DIR)

# Every test, on the sanitizer build: unit tests, then integration tests that start real
# PostgreSQL and Redis servers on loopback. The Release build is compiled too (warnings are
# errors there as well, and optimisation finds different ones), so `make run` cannot break.
test: fmt-check layering-check naming-check compose-check prometheus-check web-check build build-asan systemd-check
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure --timeout 900 -j $(JOBS)

# deploy/prometheus: promtool checks the scrape configuration and the alert rules, and runs
# the rules' unit tests; deploy/grafana's dashboard queries are checked too.
prometheus-check: bootstrap
	@tests/deploy/check-prometheus

# deploy/systemd: systemd-analyze verify (no warning), the offline security score, the env
# examples as valid configuration; as root also both services run sandboxed.
systemd-check:
	@tests/deploy/check-systemd $(if $(filter 0,$(shell id -u)),--run) $(ASAN_DIR)

# The compose files parse and resolve (no daemon needed); the images and the stack itself
# are `make compose-test`.
compose-check: bootstrap
	@docker-compose -f deploy/docker-compose.yml config -q
	@docker-compose --env-file deploy/compose-test.env -f deploy/docker-compose.yml -f deploy/docker-compose.test.yml config -q
	@echo "compose-check: deploy/docker-compose.yml and its test override are valid"

# The containers for real: images from deploy/docker/Dockerfile on a local Docker engine, the
# compose stack on loopback, the seed's integration flows through nginx, then everything
# removed. Not part of `make test` (see docs/deployment.md for how long it takes).
compose-test:
	@scripts/bootstrap --containers
	@scripts/compose-test

# Fuzzing with libFuzzer, a bounded time per target (make test replays the corpora instead).
fuzz:
	@scripts/bootstrap --fuzz
	@scripts/fuzz $(FUZZ_SECONDS)

test-unit: build-asan
	@ctest --test-dir $(ASAN_DIR) --output-on-failure -L unit -j $(JOBS)

test-integration: build-asan
	@ctest --test-dir $(ASAN_DIR) --output-on-failure -L integration

# The seed guide's load test (tests/load/test_auth_performance.py) against a running stack:
# success rate and p99 held to a bound. Needs PERMISO_BOOTSTRAP_ADMIN_PASSWORD or
# LOAD_TEST_ARGS="--client-id ... --client-secret=..." (with "=": a secret may begin with "-"); bench/load/seed_load_test.py --help.
load-test:
	@/usr/bin/python3 bench/load/seed_load_test.py $(LOAD_TEST_ARGS)

bench: build
	@scripts/run-bench $(RELEASE_DIR)

fmt:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# Formatting is part of the build: an unformatted file fails `make test` (and so CI).
fmt-check: bootstrap
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror
	@echo "fmt-check: every C++ file is formatted"

# The module layering of docs/architecture.md: a module includes only what it may depend on.
layering-check:
	@scripts/check-layering

# One enumerator style (CamelCase), as .clang-tidy's readability-identifier-naming says.
naming-check:
	@scripts/check-naming

tidy:
	@cmake --preset debug >/dev/null
	@git ls-files 'src/*.cpp' 'apps/*.cpp' | xargs clang-tidy -p build/debug --quiet

clean:
	@rm -rf build

# Thin wrapper over CMake: `make run` starts the local stack, `make test` builds
# and runs every test. See README.md.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= topic envelope request synctoken config bridge_config push_job attach \
	service_account utf8 jwt json relation session_token
JOBS ?= $(shell nproc)
MQTT_PORT ?= 1883
WS_PORT ?= 8080
REDIS_PORT ?= 6379
WEB ?= 1
S3 ?= 1
S3_PORT ?= 4568
# single: one Redis; cluster (`make cluster REDIS=cluster`): a Redis Cluster
# of 3 primaries + 3 replicas from REDIS_PORT up under the three brokers.
REDIS ?= single
# With REDIS=cluster: plugin_opt_redis_wait_replicas / the bridge's
# redis_wait_replicas, and the cluster-node-timeout (failover delay).
WAIT_REPLICAS ?= 0
NODE_TIMEOUT_MS ?= 2000

.PHONY: all build run cluster test test-asan fuzz deps clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/deps.sh

run: deps build
	REDIS=single MQTT_PORT=$(MQTT_PORT) WS_PORT=$(WS_PORT) REDIS_PORT=$(REDIS_PORT) WEB=$(WEB) S3=$(S3) S3_PORT=$(S3_PORT) BUILD=$(abspath $(BUILD)) bash scripts/run.sh

# Three brokers sharing one Redis (ports MQTT_PORT..MQTT_PORT+2); with
# REDIS=cluster, sharing a 6-node Redis Cluster instead.
cluster: deps build
	REDIS=$(REDIS) NODES=3 WAIT_REPLICAS=$(WAIT_REPLICAS) NODE_TIMEOUT_MS=$(NODE_TIMEOUT_MS) MQTT_PORT=$(MQTT_PORT) WS_PORT=$(WS_PORT) REDIS_PORT=$(REDIS_PORT) WEB=$(WEB) S3=$(S3) S3_PORT=$(S3_PORT) BUILD=$(abspath $(BUILD)) bash scripts/run.sh

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 2

test-asan:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DMQC_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j 2

# libFuzzer (clang): every target runs FUZZ_SECONDS over a copy of its seed
# corpus (new inputs stay out of the repo); reproducers of crashes land in
# $(BUILD_FUZZ)/fuzz-artifacts. See tests/fuzz/run.sh.
fuzz:
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQC_FUZZ=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target mqc_fuzz_all
	bash tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The Debian package (cmake/package.cmake): $(BUILD)/mqchat_<version>_<arch>.deb.
.PHONY: package
package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

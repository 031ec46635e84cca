# Thin wrapper over CMake: `make run` starts the local stack, `make test` builds
# and runs every test. See README.md.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= topic envelope request synctoken config bridge_config push_job \
	service_account utf8 jwt json relation
JOBS ?= $(shell nproc)
MQTT_PORT ?= 1883
WS_PORT ?= 8080
REDIS_PORT ?= 6379
WEB ?= 1

.PHONY: all build run cluster test test-asan fuzz deps clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/deps.sh

run: deps build
	MQTT_PORT=$(MQTT_PORT) WS_PORT=$(WS_PORT) REDIS_PORT=$(REDIS_PORT) WEB=$(WEB) BUILD=$(abspath $(BUILD)) bash scripts/run.sh

# Three brokers sharing one Redis (ports MQTT_PORT..MQTT_PORT+2).
cluster: deps build
	NODES=3 MQTT_PORT=$(MQTT_PORT) WS_PORT=$(WS_PORT) REDIS_PORT=$(REDIS_PORT) WEB=$(WEB) BUILD=$(abspath $(BUILD)) bash scripts/run.sh

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

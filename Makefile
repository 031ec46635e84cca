# Thin wrapper over CMake: `make run` starts the local stack, `make test` builds
# and runs every test. See README.md.
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
MQTT_PORT ?= 1883
REDIS_PORT ?= 6379

.PHONY: all build run test test-asan deps clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/deps.sh

run: deps build
	MQTT_PORT=$(MQTT_PORT) REDIS_PORT=$(REDIS_PORT) BUILD=$(abspath $(BUILD)) bash scripts/run.sh

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 2

test-asan:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DMQC_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j 2

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)

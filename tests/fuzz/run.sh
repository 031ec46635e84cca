#!/bin/bash
# Run the libFuzzer targets of a MQC_FUZZ=ON build (`make fuzz`):
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# Each target gets SECONDS (-max_total_time) over a fresh copy of its seed
# corpus in BUILD_DIR/fuzz-corpus/<name> (new inputs never land in the repo);
# its log is BUILD_DIR/fuzz-<name>.log and a crash leaves its reproducer in
# BUILD_DIR/fuzz-artifacts/<name>-crash-*. Every target runs even after one
# fails; the exit status is 1 when any did.
set -u
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
failed=()
mkdir -p "$build/fuzz-artifacts"
for t in "$@"; do
    exe=$build/tests/fuzz/fuzz_$t
    log=$build/fuzz-$t.log
    corpus=$build/fuzz-corpus/$t
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp "$src/corpus/$t"/* "$corpus"/
    printf 'fuzz_%-16s %s s ... ' "$t" "$seconds"
    if "$exe" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-artifacts/$t-" "$corpus" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
        echo "ok: ${execs:-?} execs, ${added:-?} new inputs"
    else
        echo "FAILED (log: $log)"
        grep -E 'ERROR|SUMMARY|fuzz check failed|artifact' "$log" | head -n 8 | sed 's/^/    /'
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}"
    exit 1
fi

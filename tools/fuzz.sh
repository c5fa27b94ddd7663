#!/bin/bash
# Builds the libFuzzer targets of test/fuzz (clang, ASan+UBSan, in build-fuzz/) and runs each for a fixed
# time, starting from its checked-in seed corpus (so every seed is replayed first) and its dictionary.
# Any crash, leak, sanitizer report or broken promise of a target fails it; the input is kept in
# build-fuzz/artifacts/TARGET/. Inputs that found new coverage go to build-fuzz/corpus/TARGET/, not into
# the checked-in corpus.
#   tools/fuzz.sh [--seconds=N] [TARGET...]   (default 15 s per target, every target)
# Prints one line per target with its executions, and "N passed, N failed" last; exit status 1 on any
# failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-fuzz
seconds=15
targets=()
for a; do
        case "$a" in
        --seconds=*) seconds=${a#--seconds=} ;;
        -h | --help)
                sed -n '2,10s/^# \{0,1\}//p' "$0"
                exit 0
                ;;
        -*)
                echo "fuzz.sh: unknown option $a" >&2
                exit 2
                ;;
        *) targets+=("$a") ;;
        esac
done
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
        echo "fuzz.sh: --seconds wants a positive number of seconds, not $seconds" >&2
        exit 2
fi
if [ "${#targets[@]}" -eq 0 ]; then
        for f in "$ROOT"/test/fuzz/fuzz-*.c; do
                f=${f##*/fuzz-} f=${f%.c}
                [ "$f" = util ] || targets+=("$f")
        done
fi

# shellcheck disable=SC2054 # address,undefined is one value
opts=(-Dfuzz=true -Defi=false -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false)
mkdir -p "$BUILD"
if [ -f "$BUILD/build.ninja" ]; then
        meson configure "$BUILD" "${opts[@]}" >"$BUILD/setup.log" 2>&1 ||
                { CC=clang meson setup --wipe "$BUILD" "$ROOT" "${opts[@]}" >"$BUILD/setup.log" 2>&1; } ||
                { tail -20 "$BUILD/setup.log"; echo "0 passed, 1 failed"; exit 1; }
else
        CC=clang meson setup "$BUILD" "$ROOT" "${opts[@]}" >"$BUILD/setup.log" 2>&1 ||
                { tail -20 "$BUILD/setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! nice ninja -C "$BUILD" "${targets[@]/#/test/fuzz/fuzz-}" >"$BUILD/ninja.log" 2>&1; then
        tail -40 "$BUILD/ninja.log"
        echo "0 passed, 1 failed"
        exit 1
fi

# The sanitizers' first report ends the run; libFuzzer reports leaks itself (detect_leaks).
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

passed=0 failed=0
for t in "${targets[@]}"; do
        exe=$BUILD/test/fuzz/fuzz-$t work=$BUILD/corpus/$t art=$BUILD/artifacts/$t log=$BUILD/fuzz-$t.log
        args=()
        mkdir -p "$work" "$art"
        [ -f "$ROOT/test/fuzz/dict/$t.dict" ] && args+=("-dict=$ROOT/test/fuzz/dict/$t.dict")
        # -close_fd_mask=3: the parsers' own error messages would drown the log (sanitizer reports still
        # reach it); -timeout: one input running 25 s is a hang, and a failure.
        if nice "$exe" -max_total_time="$seconds" -timeout=25 -close_fd_mask=3 -print_final_stats=1 \
                -artifact_prefix="$art/" "${args[@]}" "$work" "$ROOT/test/fuzz/corpus/$t" >"$log" 2>&1; then
                execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
                echo "PASS fuzz-$t: ${execs:-?} executions in ${seconds} s"
                passed=$((passed + 1))
        else
                echo "FAIL fuzz-$t (log: $log; input kept in $art/):"
                grep -E 'ERROR|SUMMARY|broken promise|runtime error|Test unit written' "$log" | head -10 | sed 's/^/    /'
                failed=$((failed + 1))
        fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# The whole test suite: installs what is missing, then runs the format check, the host unit tests
# (plain build in build/), the same tests under ASan+UBSan (build-asan/), the fuzz targets for a short fixed
# time each (clang, build-fuzz/), and the VM boots one after the
# other. A failing test's own last lines are printed where it fails; every skip is listed at the end with
# its reason, and a skip not allowed in test/skips-allowed is a failure.
# The last line is "N passed, N failed, N skipped"; the exit status is non-zero on any failure.
# LANZABOOTE_TEST_SEED=N reruns with the random inputs of an earlier run (its seed is printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3 # Debian's, not whatever python3 comes first on PATH
# shellcheck source=tools/deps.sh
. "$ROOT/tools/deps.sh"
deps_install
deps_osslsigncode

: "${LANZABOOTE_TEST_SEED:=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
export LANZABOOTE_TEST_SEED
# Sanitizers: the first report ends the program with a stack trace, so the test fails.
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
echo "random seed $LANZABOOTE_TEST_SEED (rerun with LANZABOOTE_TEST_SEED=$LANZABOOTE_TEST_SEED)"

passed=0 failed=0 skipped=0
skips=()
record() { # record STATUS NAME
        case "$1" in
        pass) passed=$((passed + 1)) ;;
        skip) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
        printf '%s %s\n' "$(echo "$1" | tr a-z A-Z)" "$2"
}

# Adds the counts of a "N passed, N failed[, N skipped]" line to ours.
add_summary() {
        local line=$1 p f s
        p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$line")
        f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
        s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
        if [ -z "$p" ] || [ -z "$f" ]; then
                record fail "$2 (no summary line)"
                return
        fi
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
}

format_check() {
        local files
        mapfile -t files < <(cd "$ROOT" && git ls-files -co --exclude-standard -- '*.c' '*.h')
        if (cd "$ROOT" && clang-format --dry-run --Werror "${files[@]}"); then
                record pass format
        else
                record fail "format (run: clang-format -i \$(git ls-files '*.c' '*.h'))"
        fi
}

# configure BUILDDIR OPTION=VALUE...: a build dir configured with exactly these options (a dir configured
# otherwise is reconfigured; one that cannot be is wiped), checked with meson introspect.
configure() {
        local dir=$ROOT/$1 opts=() o setup_log=$ROOT/$1/setup.log
        shift
        mkdir -p "$dir"
        for o; do opts+=("-D$o"); done
        if [ -f "$dir/build.ninja" ]; then
                meson setup --reconfigure "$dir" "$ROOT" "${opts[@]}" >"$setup_log" 2>&1 ||
                        meson setup --wipe "$dir" "$ROOT" "${opts[@]}" >"$setup_log" 2>&1 || return 1
        else
                meson setup "$dir" "$ROOT" "${opts[@]}" >"$setup_log" 2>&1 || return 1
        fi
        meson introspect --buildoptions "$dir" | "$PY" -c '
import json, sys
have = {o["name"]: o["value"] for o in json.load(sys.stdin)}
bad = []
for want in sys.argv[1:]:
    name, value = want.split("=", 1)
    got = have.get(name)
    got = ",".join(got) if isinstance(got, list) else str(got).lower()
    if got != value:
        bad.append(f"{name} is {got}, wanted {value}")
if bad:
    sys.exit("configured options differ: " + "; ".join(bad))' "$@"
}

# unit_tests LABEL BUILDDIR OPTION=VALUE...: configures and builds BUILDDIR, runs meson's test suite there.
unit_tests() {
        local label=$1 dir=$2 log report
        shift 2
        log="$ROOT/$dir/test-run.log"
        echo "== unit and install tests, $label build ($dir/)"
        if ! configure "$dir" "$@"; then
                tail -20 "$ROOT/$dir/setup.log" || true
                record fail "configure $dir"
                return
        fi
        if ! nice ninja -C "$ROOT/$dir" >"$ROOT/$dir/ninja.log" 2>&1; then
                tail -40 "$ROOT/$dir/ninja.log"
                record fail "build $dir"
                return
        fi
        rm -f "$ROOT/$dir/meson-logs/testlog.json"
        meson test -C "$ROOT/$dir" --print-errorlogs --num-processes 2 >"$log" 2>&1 || true
        grep -E '^ *[0-9]+/[0-9]+ ' "$log" | awk '!seen[$0]++' | sed "s|lanzaboote:|$label: |" || true
        local ok fail timeout skip
        ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
        fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log")
        timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log")
        skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log")
        if [ -z "$ok" ] || [ -z "$fail" ] || [ -z "$timeout" ] || [ -z "$skip" ] ||
                [ ! -s "$ROOT/$dir/meson-logs/testlog.json" ]; then
                tail -20 "$log"
                record fail "$dir: meson test printed no summary (log: $log)"
                return
        fi
        if ! report=$("$PY" "$ROOT/tools/test-report.py" "$dir" "$ROOT/$dir/meson-logs/testlog.json"); then
                record fail "$dir: cannot read $ROOT/$dir/meson-logs/testlog.json"
                return
        fi
        grep -v '^SKIPPED ' <<<"$report" || true
        mapfile -t -O "${#skips[@]}" skips < <(sed -n 's/^SKIPPED //p' <<<"$report")
        add_summary "$ok passed, $((fail + timeout)) failed, $skip skipped" "$dir"
}

# Every skip with its reason; those not allowed in test/skips-allowed are failures.
judge_skips() {
        local s name pattern ok
        for s in "${skips[@]}"; do
                name=${s%%: *} ok=0
                while read -r pattern _; do
                        # shellcheck disable=SC2053 # the pattern is a glob on purpose
                        [[ -n $pattern && $pattern != \#* && $name == $pattern ]] && ok=1
                done <"$ROOT/test/skips-allowed"
                if [ $ok = 1 ]; then
                        echo "skipped (allowed): $s"
                else
                        echo "skipped, NOT allowed in test/skips-allowed: $s"
                        failed=$((failed + 1))
                fi
        done
}

SECONDS=0
format_check
# The VM harness's cache (distribution kernel, busybox initrd, test keys, enrolled firmware
# variables) comes first: the unit tests load that kernel too.
# The kernels of other Debian releases (test/vm/kernels.sh) too: the loader's unit tests check them.
if LANZABOOTE_TEST_KERNEL=$(bash -c 'set -euo pipefail; source "$1/test/vm/lib.sh"; source "$1/test/vm/kernels.sh"
	vm_prepare >&2; kernels_prepare >&2; echo "$VM_KERNEL"' _ "$ROOT"); then
        export LANZABOOTE_TEST_KERNEL
else
        record fail "VM cache preparation (kernels, initrd, keys, firmware variables)"
fi
# Both builds have the crash hooks (inert unless LANZATOOL_CRASH_AT is set), so the crash test runs in both.
unit_tests plain build buildtype=debugoptimized b_sanitize=none b_lundef=true crash-hooks=true
# Issue 17's benchmark in its quick mode (a smaller fixture): prints floor, cold and warm and their ratios;
# fails only when it cannot run. The full mode with its targets: meson test -C build --benchmark install.
echo "== install benchmark, quick mode (bench/bench-install.sh --quick)"
if LANZATOOL=$ROOT/build/src/lanzatool/lanzatool LANZABOOTE_STUB=$ROOT/build/src/boot/efi/lanzabootx64.efi.stub \
        "$ROOT/bench/bench-install.sh" --quick 2>&1 | tee "$ROOT/build/bench-quick.log"; then
        record pass bench-install-quick
else
        record fail "bench-install-quick (log: build/bench-quick.log)"
fi
unit_tests ASan+UBSan build-asan buildtype=debug b_sanitize=address,undefined b_lundef=false crash-hooks=true
# The libFuzzer targets (clang, build-fuzz/), 15 s each after replaying their seed corpus.
echo "== fuzz targets (build-fuzz/, tools/fuzz.sh --seconds=15)"
mkdir -p "$ROOT/build-fuzz"
"$ROOT/tools/fuzz.sh" --seconds=15 2>&1 | tee "$ROOT/build-fuzz/fuzz-run.log" || true
add_summary "$(tail -n 1 "$ROOT/build-fuzz/fuzz-run.log")" "fuzz targets"
export LANZABOOTE_BUILD_DIR="$ROOT/build"
echo "== VM tests"
"$ROOT/test/vm/run.sh" 2>&1 | tee "$ROOT/build/vm-run.log" || true
add_summary "$(tail -n 1 "$ROOT/build/vm-run.log")" "vm tests"
mapfile -t -O "${#skips[@]}" skips < <(sed -n 's/^SKIP \([^ ]*\) (\(.*\))$/vm\/\1: \2/p' "$ROOT/build/vm-run.log")
echo "== skips"
judge_skips
echo "wall time: ${SECONDS}s, random seed $LANZABOOTE_TEST_SEED"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

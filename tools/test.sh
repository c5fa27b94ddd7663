#!/bin/bash
# The whole test suite: installs what is missing, then runs the format check, the host unit tests,
# the same unit tests under ASan+UBSan, and the VM boots one after the other.
# The last line is "N passed, N failed, N skipped"; the exit status is non-zero on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/deps.sh
. "$ROOT/tools/deps.sh"
deps_install

passed=0 failed=0 skipped=0
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

# unit_tests BUILDDIR [MESON OPTIONS...]: builds in BUILDDIR and runs meson's test suite there.
unit_tests() {
        local dir=$1 log
        shift
        log="$ROOT/$dir/test-run.log"
        if ! { [ -f "$ROOT/$dir/build.ninja" ] || meson setup "$ROOT/$dir" "$ROOT" "$@" >/dev/null; } ||
                ! ninja -C "$ROOT/$dir" >/dev/null; then
                ninja -C "$ROOT/$dir" | tail -40 || true
                record fail "build $dir"
                return
        fi
        meson test -C "$ROOT/$dir" --print-errorlogs --num-processes 2 | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ ' || true
        local ok fail skip
        ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
        fail=$(($(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log") + $(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log")))
        skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log")
        add_summary "${ok:-0} passed, $fail failed, ${skip:-0} skipped" "$dir"
        [ -n "$ok" ] || record fail "$dir: meson test printed no summary"
}

SECONDS=0
format_check
# The VM harness's cache (distribution kernel, busybox initrd, test keys, enrolled firmware
# variables) comes first: the unit tests load that kernel too.
LANZABOOTE_TEST_KERNEL=$(bash -c 'source "$1/test/vm/lib.sh" && vm_prepare >&2 && echo "$VM_KERNEL"' _ "$ROOT")
export LANZABOOTE_TEST_KERNEL
unit_tests build
unit_tests build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Dcrash-hooks=true
export LANZABOOTE_BUILD_DIR="$ROOT/build"
"$ROOT/test/vm/run.sh" 2>&1 | tee "$ROOT/build/vm-run.log" || true
add_summary "$(tail -n 1 "$ROOT/build/vm-run.log")" "vm tests"
echo "wall time: ${SECONDS}s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

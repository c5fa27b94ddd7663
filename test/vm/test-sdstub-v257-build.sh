#!/usr/bin/env bash
# The sd-stub patch series (patches/systemd/v257) against Debian's systemd 257 source package:
# tools/build-systemd-stub.sh 257 --tests applies it with zero fuzz and no offsets, builds systemd-boot and
# linuxx64.efi.stub with -Dwerror=true, and builds and runs the series' unit tests (test-uki-external) and
# systemd's test-efi-string. Cached; the first run builds systemd's userspace test libraries (several
# minutes), hence a test of its own, apart from the boots in test-sdstub-v257.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$("$root/tools/build-systemd-stub.sh" 257 --tests) || { echo "FAIL: tools/build-systemd-stub.sh 257 --tests" >&2; exit 1; }
for what in systemd-boot ukify stub; do
	path=$(sed -n "s/^$what //p" <<<"$out")
	[[ -f $path ]] || { echo "FAIL: tools/build-systemd-stub.sh printed no $what" >&2; exit 1; }
done
log=$(dirname "$path")/unit-tests.log # next to the stub, the last path checked
# meson's summary pads the counts with spaces
if ! grep -Eq '^Ok: *2 *$' "$log" || ! grep -Eq '^Fail: *0 *$' "$log"; then
	echo "FAIL: unit tests: $(grep -E '^(Ok|Fail):' "$log" | tr -s ' \n' ' ')" >&2
	exit 1
fi
grep -E '^ *[0-9]+/[0-9]+ ' "$log"

#!/usr/bin/env bash
# Crash safety: kill lanzatool at every mutating file-system call of a 5-generation install with
# specialisations on top of an existing 3-generation ESP; after each, a checker that is not
# lanzatool confirms every stub's kernel and initrd exist with matching hashes and the previous
# default entry is intact; a rerun then completes the install.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for g in 1 2 3; do mk_generation $g k1; done
install_gens 1 2 3
previous=$(cd "$T/esp/EFI/Linux" && ls nixos-generation-3-*)
cp -a "$T/esp" "$T/base"
mk_generation 4 k2 docked
mk_generation 5 k2
mk_generation 6 k3 docked travel
mk_generation 7 k3
new=("$T"/profiles/system-{3,4,5,6,7}-link)

run() { "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" -q --no-variables \
	--timeout=0 --configuration-limit=5 install "${new[@]}"; }

LANZATOOL_CRASH_COUNT=$T/count run
[[ -s $T/count ]] || { echo "SKIP: lanzatool built without -Dcrash-hooks=true"; exit 77; }
total=$(<"$T/count")
(cd "$T/esp" && find . -type f | sort) >"$T/expected"
((total > 20)) || fail "only $total mutating calls?"

for ((n = 1; n <= total; n++)); do
	rm -rf "$T/esp" && cp -a "$T/base" "$T/esp"
	rc=0
	(LANZATOOL_CRASH_AT=$n run) 2>/dev/null || rc=$? # quiet: bash reports the kill
	[[ $rc == 137 ]] || fail "crash point $n: exit $rc, expected to be killed"
	check_esp "$previous" || fail "crash point $n of $total broke the invariant"
	run || fail "rerun after crash point $n failed"
	(cd "$T/esp" && find . -type f | sort) >"$T/got"
	cmp -s "$T/expected" "$T/got" || fail "rerun after crash point $n: $(diff "$T/expected" "$T/got")"
done
echo "ok: $total crash points"

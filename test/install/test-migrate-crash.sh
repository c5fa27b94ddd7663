#!/usr/bin/env bash
# Crash safety of a migration, with test-crash.sh's machinery (LANZATOOL_CRASH_AT/LANZATOOL_CRASH_COUNT):
# kill lanzatool at every mutating file-system call of an install with --remove-type1-entries onto a plain
# NixOS systemd-boot ESP (mk-esp.py type1: Type #1 entries, unsigned systemd-boot at both places, loader.conf
# defaulting to nixos-generation-2.conf). After each kill, check-esp.py (not lanzatool) confirms the
# invariant, including that every Type #1 entry left names files that exist and that loader.conf's default
# matches an entry; and the previous default, the Type #1 entry, is intact as long as it is there: once it
# is gone, ours (generation 2) must be intact. A rerun then completes the migration.
# Process kills test the order of calls, not durability: on tmpfs the many syncs of the loop cost nothing.
[[ -w /dev/shm ]] && export TMPDIR=/dev/shm
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
mk_generation 1 k1
mk_generation 2 k1 # the same kernel and initrd: fewer crash points, same orderings
"$PY" "$HERE/mk-esp.py" type1 "$T/esp" "$SDBOOT" 2 "$T"/profiles/system-{1,2}-link
cp -a "$T/esp" "$T/base"
previous=nixos-generation-2.conf

run() { "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" -q --no-variables \
	--timeout=0 --systemd-boot="$SDBOOT" --remove-type1-entries install "$T"/profiles/system-{1,2}-link; }

LANZATOOL_CRASH_COUNT=$T/count run
[[ -s $T/count ]] || fail "lanzatool built without -Dcrash-hooks=true (tools/test.sh turns it on in both builds)"
total=$(<"$T/count")
(cd "$T/esp" && find . -type f | sort) >"$T/expected"
[[ ! -e $T/esp/loader/entries/$previous ]] || fail "the run under test does not remove the Type #1 entries"
ours=$(ls "$T/esp/EFI/Linux" | grep -E '^nixos-generation-2-[a-z2-7]{52}\.efi$')
((total > 20)) || fail "only $total mutating calls?"

# Under the sanitizers (build-asan/), every third point: the plain build covers each, and CI time is short.
step=1
[[ ${LANZABOOTE_SANITIZE:-none} == none ]] || step=3
for ((n = 1; n <= total; n += step)); do
	rm -rf "$T/esp" && cp -a "$T/base" "$T/esp"
	rc=0
	(LANZATOOL_CRASH_AT=$n run) 2>/dev/null || rc=$? # quiet: bash reports the kill
	[[ $rc == 137 ]] || fail "crash point $n: exit $rc, expected to be killed"
	if [[ -e $T/esp/loader/entries/$previous ]]; then
		check_esp --unsigned-loader "$SDBOOT" "$previous" || fail "crash point $n of $total broke the invariant"
	else
		check_esp --unsigned-loader "$SDBOOT" "$ours" ||
			fail "crash point $n of $total: $previous is gone before $ours is in place"
	fi
	run || fail "rerun after crash point $n failed"
	(cd "$T/esp" && find . -type f | sort) >"$T/got"
	cmp -s "$T/expected" "$T/got" || fail "rerun after crash point $n: $(diff "$T/expected" "$T/got")"
done
echo "ok: $(((total + step - 1) / step)) of $total crash points over a migration from Type #1 entries, each checked by check-esp.py"

#!/usr/bin/env bash
# Crash safety: kill lanzatool at every mutating file-system call of a 5-generation install with
# specialisations on top of an existing 3-generation ESP whose systemd-boot is older and whose loader.conf
# differs, so that the stubs, the kernels and initrds, both systemd-boot copies and loader.conf are all
# written. After each kill, check-esp.py (not lanzatool) confirms the whole invariant: every stub's pinned
# files, every signature, both systemd-boot copies, a parseable loader.conf, the previous default entry;
# a rerun then completes the install.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
# An older systemd-boot: the same binary with a lower VERSION in .osrel (same length, so still a sound PE).
"$PY" - "$SDBOOT" "$T/sd-boot-older.efi" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
at = data.index(b'\nVERSION="') + len(b'\nVERSION="')
assert data[at:at + 1].isdigit() and data[at:at + 1] != b"0", data[at:at + 8]
open(sys.argv[2], "wb").write(data[:at] + bytes([data[at] - 1]) + data[at + 1:])
PY

for g in 1 2 3; do mk_generation $g k1; done
lzbt -q --no-variables --timeout=5 --systemd-boot="$T/sd-boot-older.efi" install \
	"$T"/profiles/system-{1,2,3}-link || fail "base install"
previous=$(cd "$T/esp/EFI/Linux" && ls nixos-generation-3-*)
check_esp "$previous" || fail "the base ESP breaks the invariant"
cp -a "$T/esp" "$T/base"
mk_generation 4 k2 docked
mk_generation 5 k2
mk_generation 6 k3 docked travel
mk_generation 7 k3
new=("$T"/profiles/system-{3,4,5,6,7}-link)

run() { "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" -q --no-variables \
	--timeout=0 --systemd-boot="$SDBOOT" --configuration-limit=5 install "${new[@]}"; }

LANZATOOL_CRASH_COUNT=$T/count run
[[ -s $T/count ]] || fail "lanzatool built without -Dcrash-hooks=true (tools/test.sh turns it on in both builds)"
total=$(<"$T/count")
(cd "$T/esp" && find . -type f | sort) >"$T/expected"
((total > 20)) || fail "only $total mutating calls?"
# The run under test really replaces both systemd-boot copies and loader.conf.
for f in EFI/systemd/systemd-bootx64.efi EFI/BOOT/BOOTX64.EFI loader/loader.conf; do
	! cmp -s "$T/base/$f" "$T/esp/$f" || fail "$f is not rewritten: its crash points are not tested"
done

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
echo "ok: $total crash points, each checked by check-esp.py"

#!/usr/bin/env bash
# The order of lanzatool's file-system calls on the ESP, traced with strace and judged by
# check-fs-order.py: content only by rename of a temporary file, each rename made durable
# (fsync of the directory, then of the file) before the next change, the replaced file held open
# until then, directories fsynced in their parent, no removal before a flush, the two
# systemd-boot copies in separate flush epochs. Three installs: new generations on an installed
# ESP (with garbage collection), a changed stub (every stub replaced under its name), a newer
# systemd-boot (both copies replaced).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v strace >/dev/null || fail "strace is missing (tools/deps.sh installs it)"

for g in 1 2 3; do mk_generation $g k1; done
install_gens 1 2 3
mk_generation 4 k2 docked
mk_generation 5 k2
mk_generation 6 k3 docked travel
mk_generation 7 k3
new=("$T"/profiles/system-{3,4,5,6,7}-link)

# A changed stub: another version in .sbat, same length. A newer systemd-boot: another VERSION.
"$PY" - "$LANZABOOTE_STUB" "$T/stub-b.efi" /usr/lib/systemd/boot/efi/systemd-bootx64.efi "$T/sdboot-b.efi" <<'PYEOF'
import re, sys
d = open(sys.argv[1], "rb").read()
n = d.replace(b"lanzaboote,0.1.0,", b"lanzaboote,0.1.1,", 1)
assert n != d, "no lanzaboote SBAT line in the stub"
open(sys.argv[2], "wb").write(n)
d = open(sys.argv[3], "rb").read()
m = re.search(rb'VERSION="?(\d+)\.', d)
assert m, "no VERSION in systemd-boot"
v = m.group(1)
n = d[: m.start(1)] + str(int(v) + 1).encode().rjust(len(v), b"0")[-len(v):] + d[m.end(1):]
open(sys.argv[4], "wb").write(n)
PYEOF

traced() { # NAME STUB SYSTEMD_BOOT: install generations 3..7 under strace, then judge the trace
	# LeakSanitizer cannot run under ptrace: no leak check in an ASan build here.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -y -o "$T/$1.trace" -e trace=openat,renameat,renameat2,unlinkat,mkdirat,fsync,fdatasync,syncfs,close \
		"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$2" --systemd-boot="$3" -q --no-variables \
		--timeout=0 --configuration-limit=5 install "${new[@]}" || fail "$1: install failed"
	"$PY" "$HERE/check-fs-order.py" "$T/$1.trace" "$T/esp" || fail "$1: the write order is wrong (above)"
	check_esp || fail "$1: the installed ESP is not sound"
	echo "ok: $1: $(grep -c '^[0-9]* *renameat' "$T/$1.trace") renames, $(grep -c '^[0-9]* *unlinkat' "$T/$1.trace") removals"
}

# A fresh ESP's directories must be fsynced in their parents too.
rm -rf "$T/esp" && mkdir "$T/esp"
traced fresh "$LANZABOOTE_STUB" /usr/lib/systemd/boot/efi/systemd-bootx64.efi
rm -rf "$T/esp" && mkdir "$T/esp"
install_gens 1 2 3
traced new-generations "$LANZABOOTE_STUB" /usr/lib/systemd/boot/efi/systemd-bootx64.efi
grep -q 'unlinkat(.*"nixos-generation-1-' "$T/new-generations.trace" || fail "generation 1 was not collected"
traced changed-stub "$T/stub-b.efi" /usr/lib/systemd/boot/efi/systemd-bootx64.efi
# Every stub of the second install replaced an existing one: each rename held the old file.
[[ $(grep -c 'renameat.*"nixos-generation-' "$T/changed-stub.trace") -ge 7 ]] || fail "changed-stub: stubs not rewritten"
traced newer-systemd-boot "$T/stub-b.efi" "$T/sdboot-b.efi"
grep -q 'renameat.*"BOOTX64.EFI"' "$T/newer-systemd-boot.trace" || fail "newer-systemd-boot: BOOTX64.EFI not rewritten"

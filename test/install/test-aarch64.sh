#!/usr/bin/env bash
# An aarch64-linux generation installed from this x86-64 host: the architecture comes from the bootspec.
# systemd-bootaa64.efi and BOOTAA64.EFI, the aa64 stub, nothing for x64; signatures (sbverify) and machine
# types (python3-pefile) checked by tools we did not write. Stubs or boot loaders of the other architecture,
# and generations of two systems on one ESP, are refused with the ESP unchanged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STUB_AA64=${LANZABOOTE_STUB_AA64:-}
[[ -f $STUB_AA64 ]] || { echo "SKIP: no aa64 stub built (meson option efi-arches)"; exit 77; }

machine() { "$PY" -c 'import sys, pefile; print(hex(pefile.PE(sys.argv[1], fast_load=True).FILE_HEADER.Machine))' "$1"; }

# A stand-in for Debian's systemd-bootaa64.efi (not installable on this host): an AArch64 PE image carrying
# systemd-boot's LoaderInfo marker, which is all Debian's aa64 build of systemd 252 has for a version.
cp "$STUB_AA64" "$T/systemd-bootaa64.efi"
printf '#### LoaderInfo: systemd-boot 252.39-1~deb12u2 ####' >>"$T/systemd-bootaa64.efi"

SYSTEM=aarch64-linux mk_generation 1 k1
SYSTEM=aarch64-linux mk_generation 2 k2 docked
aa64() { "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --no-variables --timeout=0 "$@"; }
aa64 -q --stub="$STUB_AA64" --systemd-boot="$T/systemd-bootaa64.efi" install "$T"/profiles/system-{1,2}-link
check_esp || fail "invariant"

(cd "$T/esp" && find . -type f | sort) >"$T/files"
grep -qx './EFI/BOOT/BOOTAA64.EFI' "$T/files" || fail "no EFI/BOOT/BOOTAA64.EFI"
grep -qx './EFI/systemd/systemd-bootaa64.efi' "$T/files" || fail "no EFI/systemd/systemd-bootaa64.efi"
! grep -qi 'x64' "$T/files" || fail "x64 files on an aarch64 ESP: $(grep -i x64 "$T/files")"
for f in "$T"/esp/EFI/Linux/*.efi "$T/esp/EFI/BOOT/BOOTAA64.EFI" "$T/esp/EFI/systemd/systemd-bootaa64.efi"; do
	sbverify --cert "$T/pki/keys/db/db.pem" "$f" >/dev/null 2>&1 || fail "sbverify rejects $f"
	[[ $(machine "$f") == 0xaa64 ]] || fail "$f: machine $(machine "$f"), not AArch64"
done
[[ $(ls "$T"/esp/EFI/Linux/*.efi | wc -l) == 3 ]] || fail "expected 3 entries"

# Idempotent: the marker's version equals the installed one, so nothing is rewritten.
before=$(esp_snapshot)
aa64 -q --stub="$STUB_AA64" --systemd-boot="$T/systemd-bootaa64.efi" install "$T"/profiles/system-{1,2}-link
[[ $(esp_snapshot) == "$before" ]] || fail "second install changed the ESP"

refused() { # WHAT EXPECTED_MESSAGE LANZATOOL_ARGS...: refused, with that message, ESP unchanged
	local what=$1 msg=$2 out
	shift 2
	if out=$(aa64 "$@" 2>&1); then fail "$what: accepted"; fi
	grep -qE -- "$msg" <<<"$out" || fail "$what: message '$out' lacks /$msg/"
	[[ $(esp_snapshot) == "$before" ]] || fail "$what: ESP changed"
}
refused "x64 stub" 'lanzabootx64.efi.stub: not a stub for aarch64-linux: an image for x86-64, not AArch64' \
	--stub="$LANZABOOTE_STUB" --systemd-boot="$T/systemd-bootaa64.efi" install "$T/profiles/system-1-link"
refused "x64 systemd-boot" 'systemd-bootx64.efi: an image for x86-64, not AArch64' --stub="$STUB_AA64" \
	--systemd-boot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi install "$T/profiles/system-1-link"
mk_generation 3 k1
refused "two systems" 'system "x86_64-linux", but .*system-1-link is "aarch64-linux": one ESP, one system' \
	--stub="$STUB_AA64" --systemd-boot="$T/systemd-bootaa64.efi" install "$T"/profiles/system-{1,3}-link
# Without --stub and $LANZABOOTE_STUB, the bootspec's system picks the stub's name: from the build
# tree, the aa64 stub next to lanzatool, whose entries are the ones already there (nothing changes).
if [[ -f $(dirname "$LANZATOOL")/../boot/efi/lanzabootaa64.efi.stub ]]; then
	LANZABOOTE_STUB= aa64 -q --systemd-boot="$T/systemd-bootaa64.efi" install "$T"/profiles/system-{1,2}-link ||
		fail "default stub from the build tree"
	[[ $(esp_snapshot) == "$before" ]] || fail "default stub from the build tree: not the aa64 stub's entries"
else
	LANZABOOTE_STUB= refused "default stub" '/lanzabootaa64\.efi\.stub: cannot read the stub' install "$T/profiles/system-1-link"
fi

aa64 -q verify || fail "verify rejects the aarch64 ESP"
aa64 -q remove || fail "remove failed"
[[ ! -e $T/esp/EFI/BOOT/BOOTAA64.EFI && ! -e $T/esp/EFI/systemd/systemd-bootaa64.efi ]] || fail "remove left systemd-boot"

#!/usr/bin/env bash
# Three generations (two sharing a kernel) and a specialisation: the DESIGN §2 layout, stubs and
# systemd-boot signed (sbverify, pesign), sections right (pefile), reproducible, idempotent.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_generation 1 k1
mk_generation 2 k1 docked
mk_generation 3 k2
install_gens 1 2 3
check_esp || fail "invariant"

b32='[a-z2-7]{52}'
(cd "$T/esp" && find . -type f | sort) >"$T/files"
[[ $(grep -cE "^\./EFI/nixos/kernel-6\.1\.0-$b32\.efi$" "$T/files") == 2 ]] || fail "expected 2 shared kernels"
[[ $(grep -cE "^\./EFI/nixos/initrd-6\.1\.0-$b32\.efi$" "$T/files") == 2 ]] || fail "expected 2 shared initrds"
for e in 1 2 3; do
	grep -qE "^\./EFI/Linux/nixos-generation-$e-$b32\.efi$" "$T/files" || fail "no entry for generation $e"
done
grep -qE "^\./EFI/Linux/nixos-generation-2-specialisation-docked-$b32\.efi$" "$T/files" || fail "no specialisation"
[[ $(wc -l <"$T/files") == 11 ]] || fail "unexpected files: $(cat "$T/files")"

for f in "$T"/esp/EFI/Linux/*.efi "$T/esp/EFI/BOOT/BOOTX64.EFI" "$T/esp/EFI/systemd/systemd-bootx64.efi"; do
	sbverify --cert "$T/pki/keys/db/db.pem" "$f" >/dev/null 2>&1 || fail "sbverify rejects $f"
	pesign -S -i "$f" 2>/dev/null | grep -q "common name is lzbt test db" || fail "pesign sees no signature in $f"
	objdump -p "$f" >/dev/null || fail "objdump cannot read $f"
done
mk_pki "$T/other" other
! sbverify --cert "$T/other/keys/db/db.pem" "$T/esp/EFI/BOOT/BOOTX64.EFI" >/dev/null 2>&1 || fail "wrong cert accepted"

stub=$(ls "$T"/esp/EFI/Linux/nixos-generation-2-specialisation-*.efi)
"$PY" - "$stub" "$T/store/top2-nixos-system" <<'PY' || fail "sections"
import sys, pefile
pe = pefile.PE(sys.argv[1])
s = {x.Name.rstrip(b"\0").decode(): x.get_data()[: x.Misc_VirtualSize] for x in pe.sections}
top = sys.argv[2] + "/specialisation/docked"
assert s[".cmdline"] == f"init={top}/init quiet spec=docked".encode(), s[".cmdline"]
assert s[".osrel"] == (b"ID=lanza\nPRETTY_NAME=NixOS Test 26.05 (Linux 6.1.0) (Generation 2, specialisation docked, "
                       b"2026-11-03)\nVERSION_ID=Generation 2, specialisation docked, 2026-11-03\n"), s[".osrel"]
assert s[".linux"].startswith(b"\\EFI\\nixos\\kernel-6.1.0-") and len(s[".linuxh"]) == 32
assert ".sbat" in s and pe.OPTIONAL_HEADER.Subsystem == 10
PY
grep -qx 'default nixos-\*' "$T/esp/loader/loader.conf" || fail "loader.conf: $(cat "$T/esp/loader/loader.conf")"

# A second run with the same inputs opens nothing on the ESP for writing and changes nothing.
esp_snapshot >"$T/before"
# LeakSanitizer cannot run under ptrace.
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=openat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat -o "$T/trace" \
	"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" -q --no-variables --timeout=0 \
	install "$T"/profiles/system-{1,2,3}-link
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "second run changed the ESP: $(diff "$T/before" "$T/after")"
if grep -E "$T/esp|\"\\.lzbt-|\"nixos-|\"kernel-|\"initrd-" "$T/trace" | grep -E 'O_WRONLY|O_RDWR|O_CREAT|rename|unlink|mkdir'; then
	fail "second run touched the ESP for writing"
fi

# Reproducible: the same inputs on a fresh ESP give byte-identical stubs.
mv "$T/esp" "$T/esp1" && mkdir "$T/esp"
install_gens 1 2 3
diff -r "$T/esp1/EFI" "$T/esp/EFI" || fail "not reproducible"
echo "ok"

#!/usr/bin/env bash
# initrdSecrets: the appender runs on a private copy, and what it appended is what gets installed
# and pinned. systemd-boot is rewritten when unsigned, signed by another key or malformed, and
# left alone otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_generation 1 k1
top=$T/store/top1-nixos-system
cat >"$T/store/append-secrets" <<'SH'
#!/bin/sh
# Like nixpkgs' append-initrd-secrets: appends to the file it is given, which must be private.
[ "$(stat -c %a "$1")" = 600 ] || { echo "initrd copy is not private" >&2; exit 1; }
printf 'SECRET-CPIO' >>"$1"
echo "$1" >"$(dirname "$0")/appended-to"
SH
chmod +x "$T/store/append-secrets"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['org.nixos.bootspec.v1']['initrdSecrets']=sys.argv[2]; json.dump(d, open(sys.argv[1],'w'))" \
	"$top/boot.json" "$T/store/append-secrets"
install_gens 1
{ cat "$T/store/k1-linux-6.1.0/initrd"; printf 'SECRET-CPIO'; } >"$T/expected-initrd"
installed=$(ls "$T"/esp/EFI/nixos/initrd-*.efi)
cmp -s "$T/expected-initrd" "$installed" || fail "installed initrd is not the initrd plus the secrets"
[[ ! -e $(cat "$T/store/appended-to") ]] || fail "the private copy was left behind"
check_esp || fail "invariant"

loader=$T/esp/EFI/BOOT/BOOTX64.EFI
mtime() { stat -c %Y "$loader"; }
touch -d @1000000000 "$loader"
install_gens 1
[[ $(mtime) == 1000000000 ]] || fail "a sound systemd-boot was rewritten"
for bad in unsigned other-key malformed; do
	case $bad in
	unsigned) cp /usr/lib/systemd/boot/efi/systemd-bootx64.efi "$loader" ;;
	other-key)
		mk_pki "$T/other" other
		sbsign --key "$T/other/keys/db/db.key" --cert "$T/other/keys/db/db.pem" --output "$loader" \
			/usr/lib/systemd/boot/efi/systemd-bootx64.efi 2>/dev/null
		;;
	malformed) head -c 1000 /usr/lib/systemd/boot/efi/systemd-bootx64.efi >"$loader" ;;
	esac
	install_gens 1
	sbverify --cert "$T/pki/keys/db/db.pem" "$loader" >/dev/null 2>&1 || fail "$bad systemd-boot not replaced"
done
echo ok

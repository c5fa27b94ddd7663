#!/usr/bin/env bash
# The Boot#### variable `lanzatool install` writes (without --no-variables), read back by efibootmgr, which
# we did not write, against the real firmware: the guest's initrd carries lanzatool and efibootmgr, mounts
# the ESP, installs generation 1 with variables, and prints `efibootmgr -v`. The entry must be titled
# "Linux Boot Manager", point at \EFI\systemd\systemd-bootx64.efi on the ESP's GPT partition (its PARTUUID),
# and be appended to BootOrder without reordering it (as `bootctl update`); a second install with
# --boot-order-first puts it first. One boot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/rotate.sh"

n=boot-entry-efibootmgr
command -v efibootmgr >/dev/null || vm_fail "$n" "efibootmgr is not installed (tools/deps.sh installs it)"
vm_prepare
w=$(vm_workdir "$n")
ROTATE_EXTRA_PROGRAMS=("$(command -v efibootmgr)")
rotate_prepare "$w" "$LZB_TOOL" '
/lzbt/bin/efibootmgr >/tmp/before.out 2>&1
sed "s/^/LZBT BEFORE /" /tmp/before.out
/lzbt/bin/lanzatool --esp-path=/mnt/esp --pki-bundle=/lzbt/pki --stub=/lzbt/stub.efi \
	--systemd-boot=/lzbt/systemd-bootx64.efi --timeout=0 install /lzbt/gen/profiles/system-1-link \
	>/tmp/install.out 2>&1
echo "LZBT INSTALL rc=$?"
sed "s/^/LZBT INSTALL-OUT /" /tmp/install.out
/lzbt/bin/efibootmgr -v >/tmp/efibootmgr.out 2>&1
echo "LZBT EFIBOOTMGR-RC $?"
sed "s/^/LZBT EFIBOOTMGR /" /tmp/efibootmgr.out
/lzbt/bin/lanzatool --esp-path=/mnt/esp --pki-bundle=/lzbt/pki --stub=/lzbt/stub.efi \
	--systemd-boot=/lzbt/systemd-bootx64.efi --timeout=0 --boot-order-first \
	install /lzbt/gen/profiles/system-1-link >/tmp/install2.out 2>&1
echo "LZBT INSTALL2 rc=$?"
/lzbt/bin/efibootmgr >/tmp/first.out 2>&1
sed "s/^/LZBT FIRST /" /tmp/first.out
finish'

vm_boot "$n" "$w/disk.img" --sb
# "LZBT INSTALL rc=0": lanzatool's install with variables succeeded in the guest; the "LZBT EFIBOOTMGR" lines
# are efibootmgr's own parse of the firmware's Boot#### and BootOrder variables.
vm_assert_has "$n" '^LZBT SCRIPT'
vm_assert_value "$n" INSTALL rc=0
vm_assert_value "$n" EFIBOOTMGR-RC 0
entry=$(tr -d '\r' <"$(vm_log "$n")" | sed -n 's/^LZBT EFIBOOTMGR Boot\([0-9A-F]\{4\}\)\* Linux Boot Manager\t.*$/\1/p')
[[ $entry =~ ^[0-9A-F]{4}$ ]] || vm_fail "$n" "efibootmgr shows no active entry titled Linux Boot Manager"
partuuid=${VM_ESP_PARTUUID,,}
vm_assert_has "$n" "^LZBT EFIBOOTMGR Boot$entry\\* Linux Boot Manager	HD\\(1,GPT,$partuuid,0x800,0x[0-9a-f]+\\)/File\\(\\\\EFI\\\\systemd\\\\systemd-bootx64\\.efi\\)"
# BootOrder: the firmware's order before the install ("LZBT BEFORE"), with the new entry appended.
before=$(tr -d '\r' <"$(vm_log "$n")" | sed -n 's/^LZBT BEFORE BootOrder: //p')
[[ -n $before ]] || vm_fail "$n" "no BootOrder before the install"
vm_assert_has "$n" "^LZBT EFIBOOTMGR BootOrder: $before,$entry\$"
# --boot-order-first: the same entry (no second one), first, the others in their old order.
vm_assert_value "$n" INSTALL2 rc=0
vm_assert_has "$n" "^LZBT FIRST BootOrder: $entry,$before\$"
count=$(tr -d '\r' <"$(vm_log "$n")" | grep -c '^LZBT FIRST Boot[0-9A-F]\{4\}\* Linux Boot Manager') || true
[[ $count == 1 ]] || vm_fail "$n" "$count entries titled Linux Boot Manager after the second install, expected 1"

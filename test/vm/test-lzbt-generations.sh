#!/usr/bin/env bash
# lanzatool installs 3 generations and a specialisation: systemd-boot boots the newest by default;
# a loader.conf default naming an older entry boots that one; after a --configuration-limit=2
# reinstall exactly the right files remain and the newest still boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir lzbt-generations)
lzbt_generation "$w" 1
lzbt_generation "$w" 2 docked
lzbt_generation "$w" 3

boot_expect() { # NAME GENERATION
	vm_make_disk "$w/esp" "$w/disk.img"
	vm_boot "$1" "$w/disk.img" --sb --tpm
	# "LZBT CMDLINE" with lzbt.test=genN: generation N's command line reached the kernel; "LZBT VAR
	# LoaderEntrySelected": systemd-boot itself says it chose that entry file.
	vm_assert_has "$1" "^LZBT CMDLINE .*lzbt.test=gen$2( |\$)"
	vm_assert_value "$1" 'VAR LoaderEntrySelected' "$(utf16_hex "$(basename "$(lzbt_entry "$w" "$2")")")"
}

lzbt_install "$w" 1 2 3
boot_expect lzbt-gen-newest 3

lzbt_install "$w" --default="$(basename "$(lzbt_entry "$w" 1)")" 1 2 3
boot_expect lzbt-gen-default-older 1

lzbt_install "$w" --configuration-limit=2 1 2 3
(cd "$w/esp/EFI/Linux" && ls) | sed 's/-[a-z2-7]\{52\}\.efi$//' | LC_ALL=C sort >"$w/entries"
printf '%s\n' nixos-generation-2 nixos-generation-2-specialisation-docked nixos-generation-3 | LC_ALL=C sort |
	diff - "$w/entries" ||
	vm_fail lzbt-gen-newest "wrong entries after --configuration-limit=2"
# One kernel and one initrd: all generations share them.
[[ $(ls "$w/esp/EFI/nixos" | wc -l) == 2 ]] || vm_fail lzbt-gen-newest "EFI/nixos: $(ls "$w/esp/EFI/nixos")"
boot_expect lzbt-gen-limited 3

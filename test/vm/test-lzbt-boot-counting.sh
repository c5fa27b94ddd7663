#!/usr/bin/env bash
# Boot counting over three boots with installs in between, judged by systemd-boot itself: each boot's
# LoaderEntrySelected must be the entry `lanzatool list --json` called the default just before
# (specialisations present); systemd-boot's renames (+2 → +1-1 → +0-2) are read back from the disk;
# the booted, not yet blessed entry survives a --configuration-limit=1 install; a rollback
# (--default-generation of an older generation) boots that generation.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir lzbt-boot-counting)
lzbt_generation "$w" 1
lzbt_generation "$w" 2
lzbt_generation "$w" 3 docked rescue
# The host side of the installs sees the variables of the last boot, as nixos-rebuild would.
export LANZATOOL_EFIVARFS=$w/efivars
mkdir -p "$LANZATOOL_EFIVARFS"
disk=$w/disk.img

list_default() { # the name `list --json` marks as systemd-boot's next boot
	LANZATOOL_RELAX_ESP_CHECKS=1 "$LZB_TOOL" --esp-path="$w/esp" --json=short list |
		python3 -c 'import json,sys; print(*[e["id"] for e in json.load(sys.stdin) if e["isDefault"]])'
}

boot() { # NAME: boot the ESP, then read back what systemd-boot renamed and the variables it set
	local selected
	vm_make_disk "$w/esp" "$disk"
	vm_boot "$1" "$disk" --sb --tpm
	vm_assert_has "$1" '^LZBT CMDLINE '
	rm -rf "$w/esp" && mkdir "$w/esp"
	MTOOLS_SKIP_CHECK=1 mcopy -s -Q -n -i "$disk@@1M" '::/*' "$w/esp/"
	selected=$(vm_log_value "$1" 'VAR LoaderEntrySelected') || vm_fail "$1" "no LoaderEntrySelected"
	{ printf '\x06\x00\x00\x00'; xxd -r -p <<<"$selected"; } \
		>"$LANZATOOL_EFIVARFS/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
}

expect_selected() { # NAME FILE_NAME: systemd-boot 252's id is the lower-cased file name at menu time
	vm_assert_value "$1" 'VAR LoaderEntrySelected' "$(utf16_hex "$(tr '[:upper:]' '[:lower:]' <<<"$2")")"
}

entry_file() { # PATTERN: the one file in EFI/Linux matching the ERE
	local f
	f=$(cd "$w/esp/EFI/Linux" && ls | grep -E "$1") || vm_fail boot-counting "no entry /$1/: $(ls "$w/esp/EFI/Linux")"
	echo "$f"
}
b32='[a-z2-7]{52}'

# Boot 1: generation 2 is the default, +2.
lzbt_install "$w" --boot-counting=2 1 2
default=$(list_default)
[[ $default =~ ^nixos-generation-2-$b32\+2\.efi$ ]] || vm_fail boot-counting-1 "list default: $default"
boot boot-counting-1
expect_selected boot-counting-1 "$default"
vm_assert_has boot-counting-1 '^LZBT CMDLINE .*lzbt.test=gen2( |$)'
booted=$(entry_file "^nixos-generation-2-$b32\+1-1\.efi$")

# Install generation 3 (with specialisations) keeping one generation: the booted, unblessed entry stays.
lzbt_install "$w" --boot-counting=2 --configuration-limit=1 2 3
[[ -f $w/esp/EFI/Linux/$booted ]] || vm_fail boot-counting-1 "the booted entry was collected: $(ls "$w/esp/EFI/Linux")"
! ls "$w"/esp/EFI/Linux/nixos-generation-1-* >/dev/null 2>&1 || vm_fail boot-counting-1 "generation 1 kept"
default=$(list_default)
[[ $default == nixos-generation-3-* ]] || vm_fail boot-counting-2 "list default: $default"

# Boot 2: whatever the model says among generation 3 and its specialisations, systemd-boot agrees.
boot boot-counting-2
expect_selected boot-counting-2 "$default"
[[ -f $w/esp/EFI/Linux/${default%+2.efi}+1-1.efi ]] || vm_fail boot-counting-2 "no +1-1 rename of $default"

# Rollback to generation 2, which has one try left.
lzbt_install "$w" --boot-counting=2 --default-generation="$w/profiles/system-2-link" 2 3
default=$(list_default)
[[ $default == "$booted" ]] || vm_fail boot-counting-3 "list default after rollback: $default, not $booted"

# Boot 3: generation 2 again, its counter goes to +0-2.
boot boot-counting-3
expect_selected boot-counting-3 "$booted"
vm_assert_has boot-counting-3 '^LZBT CMDLINE .*lzbt.test=gen2( |$)'
entry_file "^nixos-generation-2-$b32\+0-2\.efi$" >/dev/null

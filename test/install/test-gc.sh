#!/usr/bin/env bash
# Garbage collection and entry naming: --configuration-limit, the booted entry, files that are not
# ours, boot counting, --dry-run, remove.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for g in 1 2 3 4; do mk_generation $g k$g; done
install_gens 1 2 3 4
mkdir -p "$T/esp/EFI/foo" && echo keep >"$T/esp/EFI/foo/bar" && echo keep >"$T/esp/EFI/Linux/other.efi"
entries() { (cd "$T/esp/EFI/Linux" && ls nixos-* | sed 's/-[a-z2-7]\{52\}.*//' | tr '\n' ' '); }
payloads() { ls "$T/esp/EFI/nixos" | wc -l; }

# --dry-run prints the plan and writes nothing.
esp_snapshot >"$T/before"
lzbt --no-variables --dry-run --configuration-limit=2 install "$T"/profiles/system-{1,2,3,4}-link >"$T/plan"
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "--dry-run changed the ESP"
grep -q '^remove EFI/Linux/nixos-generation-1-' "$T/plan" || fail "plan: $(cat "$T/plan")"

lzbt -q --no-variables --configuration-limit=2 install "$T"/profiles/system-{1,2,3,4}-link
[[ $(entries) == "nixos-generation-3 nixos-generation-4 " ]] || fail "limit 2 left: $(entries)"
[[ $(payloads) == 4 ]] || fail "limit 2 left $(payloads) payloads"
[[ -f $T/esp/EFI/foo/bar && -f $T/esp/EFI/Linux/other.efi ]] || fail "removed files that are not ours"
check_esp || fail "invariant"

# The booted entry survives a limit that would drop it.
booted=$(cd "$T/esp/EFI/Linux" && ls nixos-generation-3-*)
{ printf '\x06\x00\x00\x00'; printf '%s' "$booted" | iconv -t UTF-16LE; printf '\0\0'; } \
	>"$T/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
lzbt -q --no-variables --configuration-limit=1 install "$T"/profiles/system-{3,4}-link
[[ $(entries) == "nixos-generation-3 nixos-generation-4 " ]] || fail "booted entry removed: $(entries)"
rm "$T/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
lzbt -q --no-variables --configuration-limit=1 install "$T"/profiles/system-{3,4}-link
[[ $(entries) == "nixos-generation-4 " ]] || fail "limit 1 left: $(entries)"

# Boot counting: +N on new entries; +N-M names are the same entry and keep their counters.
lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{4,5}-link 2>/dev/null && fail "no generation 5"
mk_generation 5 k5
lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{4,5}-link
ls "$T"/esp/EFI/Linux/nixos-generation-5-*+3.efi >/dev/null || fail "no +3 entry: $(entries)"
f=$(ls "$T"/esp/EFI/Linux/nixos-generation-5-*+3.efi)
mv "$f" "${f%+3.efi}+2-1.efi"
lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{4,5}-link
[[ $(ls "$T"/esp/EFI/Linux/nixos-generation-5-* | wc -l) == 1 && -f ${f%+3.efi}+2-1.efi ]] ||
	fail "counted entry not recognised: $(ls "$T/esp/EFI/Linux")"
check_esp || fail "invariant"

# remove takes what lanzatool installed and nothing else.
lzbt -q remove
[[ -z $(ls "$T/esp/EFI/nixos") && ! -e $T/esp/loader/loader.conf && ! -e $T/esp/EFI/BOOT/BOOTX64.EFI ]] ||
	fail "remove left: $(cd "$T/esp" && find . -type f)"
[[ -f $T/esp/EFI/foo/bar && -f $T/esp/EFI/Linux/other.efi ]] || fail "remove took files that are not ours"
echo ok

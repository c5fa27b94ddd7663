#!/usr/bin/env bash
# Migration (issue 18): lanzatool install on the ESPs users come from, each made by mk-esp.py from its
# published layout (not by lanzatool), checked with check-esp.py:
# - plain NixOS systemd-boot (Type #1 entries): --dry-run changes no byte and shows the plan; install keeps
#   the Type #1 entries (and says so) until one of ours has booted (LoaderEntrySelected) or
#   --remove-type1-entries; then they and only their files go, others' entries stay; a Type #1 entry that
#   would still boot next is named;
# - upstream lanzaboote: its payloads are adopted untouched, its stubs replaced by ours under the same names;
# - a machine that never had Secure Boot (setup mode): the command says what it found and did.
# Process kills test the order of calls, not durability: on tmpfs the many syncs of the loop cost nothing.
[[ -w /dev/shm ]] && export TMPDIR=/dev/shm
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
MK_ESP=("$PY" "$HERE/mk-esp.py")
LOADER_GUID=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f GLOBAL_GUID=8be4df61-93ca-11d2-aa0d-00e098032b8c

efivar_string() { # NAME GUID VALUE: a volatile UTF-16LE variable, as systemd-boot sets it
	{ printf '\x06\x00\x00\x00' && printf '%s' "$3" | iconv -t UTF-16LE && printf '\0\0'; } >"$T/efivars/$1-$2"
}
efivar_byte() { printf "\\x06\\x00\\x00\\x00\\x$(printf %02x "$3")" >"$T/efivars/$1-$2"; }

migrate() { # ARGS...: install generations 1 and 2 onto $T/esp; stderr to $T/err, stdout to $T/out
	lzbt --no-variables --timeout=0 --systemd-boot="$SDBOOT" "$@" install "$T"/profiles/system-{1,2}-link \
		>"$T/out" 2>"$T/err" || fail "install $*: $(cat "$T/err")"
}
has() { grep -qF -- "$2" "$T/$1" || fail "$1 lacks \"$2\": $(cat "$T/$1")"; }
lacks() { ! grep -qF -- "$2" "$T/$1" || fail "$1 has \"$2\": $(cat "$T/$1")"; }

mk_generation 1 k1
mk_generation 2 k2 docked
ours_newest() { ls "$T/esp/EFI/Linux" | grep -E '^nixos-generation-2-[a-z2-7]{52}\.efi$'; }

# --- plain NixOS systemd-boot -------------------------------------------------------------------------
rm -rf "$T/esp" && "${MK_ESP[@]}" type1 "$T/esp" "$SDBOOT" 2 "$T"/profiles/system-{1,2}-link
CHECK=(--unsigned-loader "$SDBOOT")
check_esp "${CHECK[@]}" nixos-generation-2.conf || fail "mk-esp.py's Type #1 ESP is not sound"
cp -a "$T/esp" "$T/type1"
type1_files=(EFI/nixos/k1-linux-6.1.0-bzImage.efi EFI/nixos/k1-linux-6.1.0-initrd.efi
	EFI/nixos/k2-linux-6.1.0-bzImage.efi EFI/nixos/k2-linux-6.1.0-initrd.efi
	loader/entries/nixos-generation-1.conf loader/entries/nixos-generation-2.conf
	loader/entries/nixos-generation-2-specialisation-docked.conf)
others=(loader/entries/memtest86.conf EFI/memtest86/memtest.efi loader/entries.srel loader/random-seed)

esp_snapshot >"$T/before"
migrate --dry-run --remove-type1-entries
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "--dry-run changed the ESP: $(diff "$T/before" "$T/after")"
has err "plain NixOS systemd-boot: 3 Type #1 entries in loader/entries and 4 files in EFI/nixos only they use"
has err "they would be removed (--remove-type1-entries)"
for f in "${type1_files[@]}"; do has out "remove $f"; done
for f in "${others[@]}"; do lacks out "$f"; done
has out "write EFI/Linux/nixos-generation-2-specialisation-docked-"
echo "ok: --dry-run left the Type #1 ESP byte-identical and printed its migration plan"

migrate
has err "they are kept (kept until one of our entries has booted, or --remove-type1-entries)"
lacks err "boots this Type #1 entry next"
for f in "${type1_files[@]}" "${others[@]}"; do [[ -f $T/esp/$f ]] || fail "$f is gone without being asked"; done
check_esp "$(ours_newest)" nixos-generation-2.conf || fail "after the migration"
grep -qx 'default nixos-\*' "$T/esp/loader/loader.conf" || fail "loader.conf: $(cat "$T/esp/loader/loader.conf")"
migrate
has err "0 files written"

# Once one of ours has booted, the next install removes NixOS's entries, then the files only they use.
efivar_string LoaderEntrySelected "$LOADER_GUID" "$(ours_newest)"
migrate
has err "removed 3 Type #1 entries and 4 files they used (one of our entries has booted (LoaderEntrySelected))"
for f in "${type1_files[@]}"; do [[ ! -e $T/esp/$f ]] || fail "$f survived the migration"; done
for f in "${others[@]}"; do cmp -s "$T/type1/$f" "$T/esp/$f" || fail "$f (not NixOS's) was touched"; done
check_esp "$(ours_newest)" || fail "after removing the Type #1 entries"
rm "$T/efivars/LoaderEntrySelected-$LOADER_GUID"
echo "ok: Type #1 entries kept until ours booted, then only NixOS's entries and files removed"

# A kept Type #1 entry whose sort key sorts before ours would still be systemd-boot's choice: say so.
rm -rf "$T/esp" && cp -a "$T/type1" "$T/esp"
sed -i 's/^sort-key nixos/sort-key aaa/' "$T"/esp/loader/entries/nixos-*.conf
migrate
has err "loader/entries/nixos-generation-2.conf: systemd-boot boots this Type #1 entry next, not ours"
migrate --remove-type1-entries
lacks err "boots this Type #1 entry next"
has err "removed 3 Type #1 entries and 4 files they used (--remove-type1-entries)"
echo "ok: a Type #1 entry sorting first is named; --remove-type1-entries removes it"

# --- upstream lanzaboote ------------------------------------------------------------------------------
mk_kernel "$T/upstream-stub.efi" 65536 upstream-stub # stands in for upstream's Rust stub binary
rm -rf "$T/esp" && "${MK_ESP[@]}" upstream "$T/esp" "$SDBOOT" "$T/upstream-stub.efi" \
	"$T/pki/keys/db/db.key" "$T/pki/keys/db/db.pem" "$T"/profiles/system-{1,2}-link
previous=$(ours_newest)
check_esp "$previous" || fail "mk-esp.py's upstream ESP is not sound"
(cd "$T/esp" && ls EFI/Linux && stat -c '%n %i %Y %s' EFI/nixos/*) >"$T/upstream-files"
"$PY" -c 'import pefile,sys; sys.exit(any(s.Name.startswith(b".sbat") for s in pefile.PE(sys.argv[1]).sections))' \
	"$T/esp/EFI/Linux/$previous" || fail "the upstream stand-in already has .sbat"
esp_snapshot >"$T/before"
migrate --dry-run
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "--dry-run changed the upstream ESP"
has out "write EFI/Linux/$previous"
[[ $(grep -c '^keep  EFI/nixos/' "$T/out") == 4 ]] || fail "upstream's payloads not adopted: $(cat "$T/out")"
migrate
has err "3 of 3 entries were made by another stub (upstream lanzaboote's layout)"
(cd "$T/esp" && ls EFI/Linux && stat -c '%n %i %Y %s' EFI/nixos/*) >"$T/ours-files"
cmp -s "$T/upstream-files" "$T/ours-files" || fail "entry names or payloads changed: $(diff "$T/upstream-files" "$T/ours-files")"
for s in "$T"/esp/EFI/Linux/*.efi; do
	"$PY" -c 'import pefile,sys; sys.exit(not any(s.Name.startswith(b".sbat") for s in pefile.PE(sys.argv[1]).sections))' \
		"$s" || fail "$s is still upstream's stub"
done
check_esp "$previous" || fail "after migrating from upstream"
echo "ok: upstream lanzaboote's payloads adopted untouched, its stubs replaced by ours under the same names"

# --- never had Secure Boot: setup mode, empty ESP -----------------------------------------------------
rm -rf "$T/esp" && mkdir "$T/esp"
efivar_byte SecureBoot "$GLOBAL_GUID" 0
efivar_byte SetupMode "$GLOBAL_GUID" 1
migrate
has err "no systemd-boot and none of our entries yet; Secure Boot off, setup mode yes: installed signed systemd-boot"
check_esp "$(ours_newest)" || fail "first install in setup mode"
echo "ok: setup mode, empty ESP: the install says what it found and did"

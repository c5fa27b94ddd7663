#!/usr/bin/env bash
# Several ESPs (--esp-path repeated) and an XBOOTLDR partition (--boot-path), on directories (relaxed
# mode): every ESP gets a complete install that check-esp.py accepts; list, verify and remove cover them
# all; a check failing on the second ESP changes neither; a write failing on the second leaves the first
# complete, the second as it was, and the message says which is which.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to mount small and read-only file systems"; exit 77; }
mkdir -p "$T/esp2" "$T/xbootldr"
mounts=()
cleanup() { local m; for m in "${mounts[@]}"; do umount "$m" || true; done; }
trap 'on_exit $? cleanup' EXIT

two() { "$LANZATOOL" --esp-path="$T/esp" --esp-path="$T/esp2" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" "$@"; }
xb() { lzbt --boot-path="$T/xbootldr" "$@"; }
gens() { local g; for g; do echo "$T/profiles/system-$g-link"; done; }
check() { # DIR [ARGS...]: check-esp.py on another ESP
	local esp=$1
	shift
	"$PY" "$HERE/check-esp.py" --db "$T/pki/keys/db/db.pem" --keys "$T" --sig-cache "$T/check-esp.sigs" "$esp" "$@"
}
tree() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

mk_generation 1 k1
mk_generation 2 k2 docked
mk_generation 3 k3

# --- Two ESPs: each complete and identical; list, verify, remove over both.
mapfile -t g12 < <(gens 1 2)
two --no-variables --dry-run install "${g12[@]}" >"$T/plan" || fail "dry run onto two ESPs"
grep -q "^esp   $T/esp2$" "$T/plan" && [[ $(grep -c '^write EFI/Linux/' "$T/plan") == 6 && -z $(find "$T/esp" "$T/esp2" -mindepth 1) ]] ||
	fail "dry run: $(cat "$T/plan"; ls -A "$T/esp" "$T/esp2")"
two -q --no-variables --timeout=0 install "${g12[@]}" || fail "install onto two ESPs"
check "$T/esp" || fail "first ESP"
check "$T/esp2" || fail "second ESP"
[[ $(ls "$T/esp/EFI/Linux" | wc -l) == 3 ]] || fail "first ESP: $(ls "$T/esp/EFI/Linux")"
diff <(tree "$T/esp") <(tree "$T/esp2") >/dev/null || fail "the two ESPs differ: $(diff <(tree "$T/esp") <(tree "$T/esp2"))"
two list >"$T/list" || fail "list over two ESPs"
[[ $(grep -c '^ \+2 docked ' "$T/list") == 2 ]] && grep -q "^$T/esp2:$" "$T/list" || fail "list: $(cat "$T/list")"
two --json=short list >"$T/list.json" || fail "list --json over two ESPs"
"$PY" "$HERE/check-json-schema.py" "$HERE/schema-list.json" "$T/list.json" >&2 || fail "list --json over two ESPs: not schema-list.json"
# One document (one line, one array); every entry names its ESP, and its stub lies on that ESP.
[[ $(wc -l <"$T/list.json") == 1 ]] || fail "list --json over two ESPs: $(wc -l <"$T/list.json") lines"
jq -e --arg a "$T/esp" --arg b "$T/esp2" '([.[] | .esp] | sort) == [$a, $a, $a, $b, $b, $b]' "$T/list.json" >/dev/null ||
	fail "list --json over two ESPs: $(cat "$T/list.json")"
while read -r esp path; do
	[[ $path == "$esp/EFI/Linux/"* && -f $path ]] || fail "list --json: $path is not on $esp"
done < <(jq -r '.[] | "\(.esp) \(.path)"' "$T/list.json")
two -q verify || fail "verify over two sound ESPs"
kernel=$(ls "$T"/esp2/EFI/nixos/kernel-*.efi | head -1)
cp "$kernel" "$T/kernel.orig"
printf 'X' | dd of="$kernel" bs=1 seek=1000 conv=notrunc status=none
rc=0
two verify 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q "^lanzatool: $T/esp2/EFI/Linux/.*$(basename "$kernel") does not match" "$T/err" ||
	fail "verify after tampering on the second ESP: exit $rc: $(cat "$T/err")"
cp "$T/kernel.orig" "$kernel"
two -q --no-variables --timeout=0 install "${g12[@]}" || fail "second install"
echo "ok two ESPs"

# --- A check failing on the second ESP (too small) changes neither.
mount -t tmpfs -o size=600k lzbt-esp2 "$T/esp2" || fail "cannot mount tmpfs"
mounts=("$T/esp2")
esp_snapshot >"$T/before"
mapfile -t g123 < <(gens 1 2 3)
rc=0
two --no-variables install "${g123[@]}" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "install with a full second ESP: exit $rc"
grep -q "$T/esp2: not enough space" "$T/err" && grep -q "$T/esp2: cannot install there; no ESP was changed" "$T/err" ||
	fail "message: $(cat "$T/err")"
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the first ESP changed"
[[ -z $(ls -A "$T/esp2") ]] || fail "the second ESP changed: $(ls -A "$T/esp2")"
echo "ok full second ESP"

# --- A write failing on the second ESP (read-only): the first is complete, the second as it was.
umount "$T/esp2"
mounts=()
rm -rf "$T/esp2" && mkdir "$T/esp2"
mapfile -t g1 < <(gens 1)
two -q --no-variables --timeout=0 install "${g1[@]}" || fail "install of generation 1"
previous=$(cd "$T/esp2/EFI/Linux" && ls nixos-generation-1-*)
mount --bind "$T/esp2" "$T/esp2" && mount -o remount,bind,ro "$T/esp2" || fail "cannot make a read-only bind mount"
mounts=("$T/esp2")
tree "$T/esp2" >"$T/before2"
rc=0
two --no-variables --timeout=0 install "${g12[@]}" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "install with a read-only second ESP: exit $rc"
grep -q "$T/esp2: install failed there (its previous entries still boot); installed completely: $T/esp; not changed: none" "$T/err" ||
	fail "message: $(cat "$T/err")"
check "$T/esp" || fail "first ESP after the failure"
[[ $(ls "$T/esp/EFI/Linux" | wc -l) == 3 ]] || fail "first ESP incomplete: $(ls "$T/esp/EFI/Linux")"
check "$T/esp2" "$previous" || fail "second ESP after the failure"
diff "$T/before2" <(tree "$T/esp2") || fail "the read-only ESP changed"
umount "$T/esp2"
mounts=()
two -q --no-variables --timeout=0 install "${g12[@]}" || fail "install after the failure"
diff <(tree "$T/esp") <(tree "$T/esp2") >/dev/null || fail "the two ESPs differ after the rerun"
two -q remove || fail "remove over two ESPs"
for e in esp esp2; do
	[[ -z $(find "$T/$e" -type f) ]] || fail "remove left files on $e: $(find "$T/$e" -type f)"
done
echo "ok read-only second ESP"

# --- XBOOTLDR: stubs and payloads there, systemd-boot and loader.conf on the ESP.
rm -rf "$T/esp" && mkdir "$T/esp"
xb -q --no-variables --timeout=0 install "${g12[@]}" || fail "install with --boot-path"
check "$T/esp" --boot "$T/xbootldr" || fail "split ESP/XBOOTLDR layout"
[[ $(ls "$T/xbootldr/EFI/Linux" | wc -l) == 3 && -n $(ls "$T/xbootldr/EFI/nixos") ]] || fail "XBOOTLDR: $(find "$T/xbootldr")"
[[ ! -e $T/esp/EFI/Linux && ! -e $T/esp/EFI/nixos && -f $T/esp/loader/loader.conf ]] || fail "ESP: $(find "$T/esp")"
xb list >"$T/list" || fail "list with --boot-path"
grep -q '^ \+2 docked ' "$T/list" && grep -q "^$T/esp (XBOOTLDR $T/xbootldr):$" "$T/list" || fail "list: $(cat "$T/list")"
xb --json=short list | "$PY" -c '
import json, sys
e = json.load(sys.stdin)
assert [x["generation"] for x in e] == [1, 2, 2], e
assert sum(x["isDefault"] for x in e) == 1, e
assert all(x["esp"] == sys.argv[1] and x["path"].startswith(sys.argv[2] + "/EFI/Linux/") for x in e), e
' "$T/esp" "$T/xbootldr" || fail "list --json with --boot-path"
xb --json=short status | "$PY" -c "import json,sys; s=json.load(sys.stdin); assert s['entries'] == 3 and s['xbootldrPath'] == '$T/xbootldr', s" ||
	fail "status with --boot-path"
xb -q verify || fail "verify with --boot-path"
stub=$(ls "$T"/xbootldr/EFI/Linux/nixos-generation-2-specialisation-* | head -1)
cp "$stub" "$T/stub.orig"
printf 'X' | dd of="$stub" bs=1 seek=2000 conv=notrunc status=none
rc=0
xb verify 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q "$T/xbootldr/EFI/Linux/$(basename "$stub")" "$T/err" || fail "verify after tampering on XBOOTLDR: exit $rc: $(cat "$T/err")"
cp "$T/stub.orig" "$stub"
# Idempotent across both partitions; generation 3 then collects generation 1 on XBOOTLDR only.
tree "$T/esp" >"$T/esp.before"
tree "$T/xbootldr" >"$T/xb.before"
xb -q --no-variables --timeout=0 install "${g12[@]}" || fail "second install with --boot-path"
diff "$T/esp.before" <(tree "$T/esp") && diff "$T/xb.before" <(tree "$T/xbootldr")|| fail "second install changed files"
mapfile -t g23 < <(gens 2 3)
xb -q --no-variables --timeout=0 install "${g23[@]}" || fail "install of 2 and 3 with --boot-path"
check "$T/esp" --boot "$T/xbootldr" || fail "split layout after collecting"
[[ -z $(ls "$T/xbootldr/EFI/Linux" | grep generation-1-) ]] || fail "generation 1 not collected: $(ls "$T/xbootldr/EFI/Linux")"
# --boot-path naming the ESP itself is no XBOOTLDR partition; with two ESPs it is refused.
rc=0
two --boot-path="$T/xbootldr" list 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q -- "--boot-path: with one --esp-path only" "$T/err" || fail "--boot-path with two ESPs: exit $rc: $(cat "$T/err")"
rc=0
env -u LANZATOOL_RELAX_ESP_CHECKS "$LANZATOOL" --esp-path="$T/esp" --boot-path="$T/xbootldr" list 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "unrelaxed --boot-path on directories: exit $rc"
xb -q remove || fail "remove with --boot-path"
[[ -z $(find "$T/esp" "$T/xbootldr" -type f) ]] || fail "remove left: $(find "$T/esp" "$T/xbootldr" -type f)"
echo "ok XBOOTLDR"
echo ok

#!/usr/bin/env bash
# --json of list, verify, status, install and remove: each shape checked against its schema file
# (test/install/schema-*.json, by check-json-schema.py) and its values with jq against what is on the
# ESP (stat, find, a tampered kernel); pretty and short carry the same document.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v jq >/dev/null || fail "jq missing (in tools/deps.sh)"

mk_pki "$T/pki"
mk_generation 1 k1
mk_generation 2 k2 docked
install_gens 1 2

json() {
	:  # SHAPE ARGS...: lanzatool --json=pretty ARGS into $T/SHAPE.json, checked against schema-SHAPE.json;
	# the --json=short output is one line holding the same document
	local shape=$1 rc=0
	shift
	lzbt --json=pretty "$@" >"$T/$shape.json" 2>"$T/err" || rc=$?
	echo "$rc" >"$T/$shape.rc"
	"$PY" "$HERE/check-json-schema.py" "$HERE/schema-$shape.json" "$T/$shape.json" >&2 ||
		fail "$shape --json: does not match schema-$shape.json: $(head -c 600 "$T/$shape.json")"
	# a second run would find nothing to remove, or to write
	[[ $shape == remove || ($shape == install && " $* " != *" --dry-run "*) ]] && return 0
	lzbt --json=short "$@" >"$T/$shape.short" 2>/dev/null || true
	[[ $(wc -l <"$T/$shape.short") == 1 ]] || fail "$shape --json=short: not one line"
	[[ $(jq -S . "$T/$shape.json") == "$(jq -S . "$T/$shape.short")" ]] || fail "$shape: pretty and short differ: $(diff <(jq -S . "$T/$shape.json") <(jq -S . "$T/$shape.short") | head -5)"
}
jqe() { # SHAPE FILTER: jq -e FILTER holds for $T/SHAPE.json
	jq -e "$2" "$T/$1.json" >/dev/null || fail "$1 --json: not ($2): $(head -c 800 "$T/$1.json")"
}

# list: three entries, one default, sizes as stat sees the files.
json list list
jqe list 'length == 3 and ([.[] | select(.isDefault)] | length) == 1 and all(.[]; .ok and .signed)'
jqe list '[.[] | .specialisation] == [null, null, "docked"] or [.[] | .specialisation] == [null, "docked", null]'
while read -r path stub pinned; do
	[[ $(stat -c %s "$path") == "$stub" ]] || fail "list: stubSize $stub of $path, stat says $(stat -c %s "$path")"
	((pinned > 200000)) || fail "list: pinnedSize $pinned of $path"
done < <(jq -r '.[] | "\(.path) \(.stubSize) \(.pinnedSize)"' "$T/list.json")

# verify: every entry and both systemd-boot copies, all sound.
json verify verify
jqe verify '.ok and .problems == 0 and .firmwareTrustsPkiBundle'
jqe verify "([.files[] | select(.type == \"entry\")] | length) == 3 and ([.files[] | select(.type == \"boot-loader\")] | length) == 2"
jqe verify 'all(.files[]; .ok and .signature)'
[[ $(cat "$T/verify.rc") == 0 ]] || fail "verify of a sound ESP: exit $(cat "$T/verify.rc")"

# status: the ESP and the entries.
json status status
jqe status ".espPath == \"$T/esp\" and .entries == 3 and .entriesWithProblems == 0 and .pkiBundle == \"$T/pki\""

# A tampered kernel: verify exits 1, and the entries pinning it are not ok, signed, with a bad pin.
k=$(find "$T/esp/EFI/nixos" -name 'kernel-*' | head -n 1)
cp "$k" "$T/kernel.orig"
printf '\xff' | dd of="$k" bs=1 seek=4096 conv=notrunc status=none
json verify verify
[[ $(cat "$T/verify.rc") == 1 ]] || fail "verify of a tampered kernel: exit $(cat "$T/verify.rc")"
jqe verify '(.ok | not) and .problems >= 1'
jqe verify '[.files[] | select(.pinnedHashes == false)] | length >= 1 and all(.[]; (.ok | not) and .signature and (.problem | test("does not match its pinned hash")))'
cp "$T/kernel.orig" "$k"

# install --json: a third generation and --configuration-limit=2. --dry-run says exactly what the real run
# then does (and changes nothing); what it writes appears, what it removes is gone, what it keeps stays.
mk_generation 3 k1
G=("$T/profiles/system-1-link" "$T/profiles/system-2-link" "$T/profiles/system-3-link")
ijq() { jq -r ".targets[0].files[] | select(.action == \"$1\") | .path" "$T/install.json" | sort; }
esp_snapshot >"$T/before"
json install --no-variables --timeout=0 --configuration-limit=2 --dry-run install "${G[@]}"
esp_snapshot | cmp -s "$T/before" - || fail "install --dry-run --json changed the ESP"
jqe install ".dryRun and (.targets | length) == 1 and .targets[0].esp == \"$T/esp\""
jqe install '[.targets[0].files[] | select(.action == "write") | .type] == ["entry"]'
jqe install '[.targets[0].files[] | select(.action == "remove") | .id | test("^nixos-generation-1-")] == [true]'
ijq write >"$T/would-write"
ijq remove >"$T/would-remove"
ijq keep >"$T/would-keep"
[[ $(wc -l <"$T/would-write") == 1 && $(wc -l <"$T/would-remove") == 1 ]] || fail "install --dry-run --json: $(cat "$T/install.json")"
while read -r f; do [[ ! -e $f ]] || fail "install --dry-run --json: $f would be written but exists"; done <"$T/would-write"
while read -r f; do [[ -f $f ]] || fail "install --dry-run --json: $f would be kept or removed but does not exist"; done < <(cat "$T/would-keep" "$T/would-remove")
(cd "$T/esp" && find EFI/Linux EFI/nixos EFI/systemd EFI/BOOT loader/loader.conf -type f | sed "s|^|$T/esp/|" | sort) |
	diff -u - <(sort "$T/would-keep" "$T/would-remove") >&2 || fail "install --dry-run --json: kept + removed is not what is on the ESP"
json install --no-variables --timeout=0 --configuration-limit=2 install "${G[@]}"
jqe install '.dryRun | not'
ijq write | diff -u "$T/would-write" - >&2 || fail "install --json: written differs from --dry-run"
ijq remove | diff -u "$T/would-remove" - >&2 || fail "install --json: removed differs from --dry-run"
while read -r f; do [[ -f $f ]] || fail "install --json: $f written but missing"; done <"$T/would-write"
while read -r f; do [[ ! -e $f ]] || fail "install --json: $f removed but still there"; done <"$T/would-remove"
check_esp >/dev/null || fail "install --json: the ESP fails the independent check"
# Two ESPs (--esp-path twice): one document, one target each; nothing on the new one yet.
mkdir -p "$T/esp2"
json install --esp-path="$T/esp2" --no-variables --timeout=0 --configuration-limit=2 --dry-run install "${G[@]}"
jqe install "[.targets[].esp] == [\"$T/esp\", \"$T/esp2\"]"
jqe install 'all(.targets[1].files[]; .action == "write") and all(.targets[0].files[]; .action == "keep")'

# remove --dry-run, then remove: the same files, exactly those lanzatool installed.
(cd "$T/esp" && find EFI/Linux EFI/nixos EFI/systemd EFI/BOOT loader/loader.conf -type f | sort) |
	sed "s|^|$T/esp/|" >"$T/installed"
json remove --dry-run remove
jqe remove '.dryRun'
jq -r '.removed[]' "$T/remove.json" | sort | diff -u "$T/installed" - >&2 || fail "remove --dry-run --json: not the installed files"
[[ -z $(comm -23 "$T/installed" <(cd "$T/esp" && find . -type f | sed "s|^\.|$T/esp|" | sort)) ]] ||
	fail "remove --dry-run removed something"
json remove remove
jqe remove '.dryRun | not'
jq -r '.removed[]' "$T/remove.json" | sort | diff -u "$T/installed" - >&2 || fail "remove --json: not the installed files"
while read -r f; do [[ ! -e $f ]] || fail "remove --json lists $f, which is still there"; done <"$T/installed"

echo "PASS: list, verify, status, install and remove --json match their schemas and the ESP"

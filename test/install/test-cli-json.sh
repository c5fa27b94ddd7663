#!/usr/bin/env bash
# --json of list, verify, status and remove: each shape checked against its schema file
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
	[[ $shape == remove ]] && return 0 # a second run would find nothing to remove
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

echo "PASS: list, verify, status and remove --json match their schemas and the ESP"

#!/usr/bin/env bash
# Without nixpkgs: every .nix file of the tree parses; nix/lib.nix's functions give the values
# written out in test/nix/pure.nix; and nix/lib.nix's list of lanzatool features agrees with
# `lanzatool --help` (a feature marked missing whose option exists fails, and the reverse).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LANZATOOL=${LANZATOOL:?LANZATOOL must name the lanzatool binary}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
command -v nix-instantiate >/dev/null || fail "nix-instantiate not found (Debian's nix-bin, tools/deps.sh)"
# Evaluation only; no store writes, no daemon, no binary cache.
export NIX_CONFIG=$'build-users-group =\nsubstituters ='
T=$(mktemp -d "${TMPDIR:-/tmp}/lzbt-nix.XXXXXX")
trap 'rm -rf "$T"' EXIT

mapfile -t files < <(cd "$ROOT" && git ls-files -co --exclude-standard -- '*.nix')
[[ ${#files[@]} -ge 10 ]] || fail "only ${#files[@]} .nix files found"
for f in "${files[@]}"; do
	nix-instantiate --parse "$ROOT/$f" >/dev/null 2>"$T/log" || fail "$f does not parse: $(grep -v nixbld "$T/log")"
done
echo "parsed ${#files[@]} .nix files"

nix-instantiate --eval --strict --json "$ROOT/test/nix/pure.nix" >"$T/failures.json" 2>"$T/log" ||
	fail "test/nix/pure.nix: $(grep -v nixbld "$T/log")"
/usr/bin/python3 -c 'import json, sys
f = json.load(open(sys.argv[1]))
for x in f: print("FAIL:", x)
sys.exit(1 if f else 0)' "$T/failures.json" || fail "nix/lib.nix"

nix-instantiate --eval --strict --json -E "(import $ROOT/nix/lib.nix).features" >"$T/features.json" 2>"$T/log" ||
	fail "nix/lib.nix features: $(grep -v nixbld "$T/log")"
"$LANZATOOL" --help >"$T/help"
/usr/bin/python3 -c 'import json, re, sys
features = json.load(open(sys.argv[1]))
help = open(sys.argv[2]).read()
bad = 0
for name, f in sorted(features.items()):
    offered = re.search(re.escape(f["option"]) + r"\b", help) is not None
    if offered != f["available"]:
        says = "available" if f["available"] else "missing"
        shown = "shows" if offered else "lacks"
        print("FAIL: nix/lib.nix says %s (%s) is %s; lanzatool --help %s it" % (name, f["option"], says, shown))
        bad = 1
sys.exit(bad)' "$T/features.json" "$T/help" || fail "nix/lib.nix features disagree with lanzatool --help"
echo "PASS: nix files parse, nix/lib.nix values, features match lanzatool --help"

#!/usr/bin/env bash
# list, verify and status read what install wrote; verify names each bad file and fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_generation 1 k1
mk_generation 2 k2 docked
install_gens 1 2
lzbt list >"$T/list" || fail "list"
grep -qE '^ +2 docked +6\.1\.0 +lanza ' "$T/list" || fail "list: $(cat "$T/list")"
lzbt --json=short list | "$PY" -c '
import json, sys
e = json.load(sys.stdin)
assert [x["generation"] for x in e] == [1, 2, 2], e
assert all(x["signed"] and x["ok"] for x in e), e
assert [x["isDefault"] for x in e] == [False, False, True] or [x["isDefault"] for x in e] == [False, True, False], e
' || fail "list --json"
lzbt -q verify || fail "verify of a sound ESP"
lzbt --json=pretty status | "$PY" -c 'import json,sys; s=json.load(sys.stdin); assert s["entries"] == 3, s' ||
	fail "status --json"

kernel=$(ls "$T"/esp/EFI/nixos/kernel-*.efi | head -1)
printf 'X' | dd of="$kernel" bs=1 seek=1000 conv=notrunc status=none
rc=0
lzbt verify 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "verify exit $rc after tampering"
grep -q "$(basename "$kernel") does not match" "$T/err" || fail "verify: $(cat "$T/err")"
echo ok

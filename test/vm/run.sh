#!/usr/bin/env bash
# Run VM tests one after the other: run.sh [TEST...] (names like test-foo.sh,
# test-foo or foo; default: every test-*.sh here). Exit 0 pass, 77 skip, else fail.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

resolve() { # NAME: path of a test script
	local n=${1##*/}
	n=${n%.sh}
	n=test-${n#test-}
	[[ -f $here/$n.sh ]] || { echo "no such test: $1" >&2; return 1; }
	echo "$here/$n.sh"
}

tests=()
if (($#)); then
	for t; do
		path=$(resolve "$t")
		tests+=("$path")
	done
else
	tests=("$here"/test-*.sh)
fi

t0=$EPOCHREALTIME
vm_prepare
echo "prepared in $(_vm_elapsed "$t0") s (cache $VM_CACHE, logs $VM_LOGDIR)"

pass=0 fail=0 skip=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$VM_LOGDIR/$name.out
	t0=$EPOCHREALTIME rc=0
	echo "start $name ($(date +%H:%M:%S); output in $out)"
	timeout -k 10 "${VM_TEST_TIMEOUT:-900}" bash "$t" >"$out" 2>&1 || rc=$?
	case $rc in
	0)
		echo "PASS $name ($(_vm_elapsed "$t0") s)"
		pass=$((pass + 1))
		;;
	77)
		reason=$(sed -n 's/^SKIP: //p' "$out" | tail -n 1)
		echo "SKIP $name (${reason:-no SKIP: line given})"
		skip=$((skip + 1))
		;;
	*)
		echo "FAIL $name (exit $rc, $(_vm_elapsed "$t0") s; output in $out), its last 40 lines:"
		tail -n 40 "$out" | sed 's/^/    /'
		fail=$((fail + 1))
		;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))

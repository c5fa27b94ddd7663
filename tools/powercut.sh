#!/usr/bin/env bash
# Power-cut test of `lanzatool install` on a real FAT32 ESP (test/vm/powercut.sh explains it):
#   tools/powercut.sh [--cuts=N] [--seed=S] [--no-rerun]
# N cuts (default 60) spread over the three scenarios, at instants drawn from seed S (default 1). A cut
# that left a temporary file is followed by the same install run to the end, judged too (not with
# --no-rerun); last, one cut at an instant the guest picks so that it surely leaves one, and that install.
# Ends with "power cuts: N; unbootable: U; checker failures: F" (F counts the installs after a cut too);
# exits 0 only when both are 0.
# Uses the VM cache ($LANZABOOTE_TEST_CACHE) and the build in $LANZABOOTE_BUILD_DIR (default build/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cuts=60 seed=1 rerun=1
for a; do
	case $a in
	--cuts=*) cuts=${a#--cuts=} ;;
	--seed=*) seed=${a#--seed=} ;;
	--no-rerun) rerun=0 ;;
	*) echo "usage: $0 [--cuts=N] [--seed=S] [--no-rerun]" >&2 && exit 2 ;;
	esac
done
[[ $cuts =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || { echo "$0: --cuts and --seed take numbers" >&2; exit 2; }
source "$ROOT/test/vm/lib.sh"
source "$ROOT/test/vm/stub.sh"
source "$ROOT/test/vm/rotate.sh"
source "$ROOT/test/vm/powercut.sh"
vm_prepare
pc_prepare
work=$(vm_workdir powercut)
PC_RERUN=$rerun pc_run "$PC_PREP" "$work" "$cuts" "$seed"

#!/usr/bin/env bash
# Power cuts during `lanzatool install` on a real FAT32 ESP, the quick mode: two cuts per scenario, then
# one cut that leaves a temporary file and the install after it (tools/powercut.sh --cuts=N runs as many
# as asked, and reruns the install after every cut that left one). See test/vm/powercut.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/../../tools/powercut.sh" --cuts="${LANZABOOTE_POWERCUTS:-6}" --seed="${LANZABOOTE_POWERCUT_SEED:-1}" --no-rerun

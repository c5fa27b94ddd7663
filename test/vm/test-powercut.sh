#!/usr/bin/env bash
# Power cuts during `lanzatool install` on a real FAT32 ESP, the quick mode: two cuts per scenario
# (tools/powercut.sh --cuts=N runs as many as asked). See test/vm/powercut.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/../../tools/powercut.sh" --cuts="${LANZABOOTE_POWERCUTS:-6}" --seed="${LANZABOOTE_POWERCUT_SEED:-1}"

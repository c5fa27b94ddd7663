#!/usr/bin/env bash
# A small ESP (tmpfs: this machine's kernel has no vfat): too little space fails before anything
# is touched; when deleting unreferenced files is enough, only those go first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to mount a small file system"; exit 77; }

mount -t tmpfs -o size=1600k lzbt-esp "$T/esp" || { echo "SKIP: cannot mount tmpfs"; exit 77; }
trap 'on_exit $? umount "$T/esp"' EXIT
mk_generation 1 k1
mk_generation 2 k2
mk_generation 3 k3
install_gens 1
previous=$(cd "$T/esp/EFI/Linux" && ls nixos-generation-1-*)

# 400 KiB nobody references, under one of our payload names: deleting it makes room for
# generation 2.
unreferenced=$T/esp/EFI/nixos/kernel-6.1-$(printf 'a%.0s' {1..52}).efi
head -c 409600 /dev/zero >"$unreferenced"
lzbt --no-variables install "$T"/profiles/system-{1,2}-link 2>"$T/err" || fail "install with garbage: $(cat "$T/err")"
grep -q 'short of space' "$T/err" || fail "no word about freeing space: $(cat "$T/err")"
[[ ! -e $unreferenced ]] || fail "garbage kept"
check_esp "$previous" || fail "invariant"

# Nothing left to free: generation 3 does not fit; nothing changes.
esp_snapshot >"$T/before"
rc=0
lzbt --no-variables install "$T"/profiles/system-{1,2,3}-link 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "exit $rc"
grep -q "$T/esp: not enough space" "$T/err" || fail "message: $(cat "$T/err")"
esp_snapshot >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the ESP changed"
echo ok

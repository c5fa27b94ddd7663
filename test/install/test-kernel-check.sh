#!/usr/bin/env bash
# Kernels the stub cannot start are refused by install before anything is written, with the requirement
# they miss: a file that is no PE image, and an EFI-stub kernel without the Linux 5.8 initrd protocol
# (MajorImageVersion 0, set with python3-pefile). A real kernel of Linux 5.10 shape (SectionAlignment
# 0x20, no NX_COMPAT) is installed and passes verify when the VM harness has fetched one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_generation 1 k1
install_gens 1
esp_snapshot >"$T/before"

# refused NAME ERE: generation 2 with kernel $T/bad-kernel; install fails with one line, the ESP unchanged
refused() {
	local rc=0
	mkdir -p "$T/store/kbad-linux-6.1.0" && cp "$T/bad-kernel" "$T/store/kbad-linux-6.1.0/bzImage"
	mk_generation 2 kbad
	lzbt --no-variables install "$T/profiles/system-1-link" "$T/profiles/system-2-link" >"$T/out" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "$1: exit $rc, expected 1 ($(cat "$T/err"))"
	[[ $(wc -l <"$T/err") == 1 ]] && grep -qE "bzImage: the stub cannot boot this kernel: .*$2" "$T/err" ||
		fail "$1: message: $(cat "$T/err")"
	esp_snapshot >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "$1: the ESP changed"
	echo "ok $1: $(cat "$T/err")"
	rm -rf "$T/store/kbad-linux-6.1.0" "$T/store/top2-nixos-system" "$T/profiles/system-2-link"
}

head -c 300000 /dev/urandom >"$T/bad-kernel"
refused not-pe 'not a PE image'

cp "$T/store/k1-linux-6.1.0/bzImage" "$T/bad-kernel"
"$PY" - "$T/bad-kernel" <<'PY'
import sys, pefile
pe = pefile.PE(sys.argv[1])
pe.OPTIONAL_HEADER.MajorImageVersion = 0
pe.write(sys.argv[1])
PY
refused pre-5.8 'predates Linux 5\.8'

lzbt verify >"$T/out" 2>&1 || fail "verify of a good ESP failed: $(cat "$T/out")"

# A kernel of Linux 5.10's shape from the VM cache, when fetched.
k510=${LANZABOOTE_TEST_CACHE:-$HOME/.cache/lanzaboote-test}/kernels/bullseye/vmlinuz
if [[ -f $k510 ]]; then
	mkdir -p "$T/store/k510-linux-5.10" && cp "$k510" "$T/store/k510-linux-5.10/bzImage"
	mk_generation 3 k510
	lzbt --no-variables install "$T/profiles/system-1-link" "$T/profiles/system-3-link" ||
		fail "the 5.10 kernel was refused"
	lzbt verify >"$T/out" 2>&1 || fail "verify with the 5.10 kernel failed: $(cat "$T/out")"
	echo "ok 5.10 kernel installed and verified"
else
	echo "no 5.10 kernel in the VM cache (test/vm/run.sh stub-kernels fetches it): that case skipped"
fi
echo "1 passed, 0 failed"

#!/bin/bash
# The main job: build, make a throwaway PKI and ESP, install three NixOS-style generations (one
# with a specialisation) with lanzatool, boot the ESP in QEMU with OVMF under Secure Boot with a
# software TPM, and print what was verified.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/deps.sh
. "$ROOT/tools/deps.sh"
echo "== Checking Debian packages; apt-get installs the missing ones (the first time: minutes, quietly)"
deps_install

echo "== Building lanzatool and the stub (meson, ninja)"
[ -f "$ROOT/build/build.ninja" ] || meson setup "$ROOT/build" "$ROOT" >/dev/null
ninja -C "$ROOT/build" >/dev/null
export LANZABOOTE_BUILD_DIR=$ROOT/build
# shellcheck source=test/vm/lib.sh
source "$ROOT/test/vm/lib.sh"
# shellcheck source=test/vm/stub.sh
source "$ROOT/test/vm/stub.sh"

echo "== Preparing the kernel, a busybox initrd, a throwaway PKI and firmware with it enrolled"
vm_prepare
w=$(vm_workdir demo)
lzbt_generation "$w" 1
lzbt_generation "$w" 2 docked
lzbt_generation "$w" 3

echo "== lanzatool install: generations 1, 2 (+ specialisation docked), 3"
lzbt_install "$w" 1 2 3
echo "== lanzatool list (the ESP is a directory here, hence --no-esp-checks and its warning)"
"$LZB_TOOL" --esp-path="$w/esp" --no-esp-checks --pki-bundle="$VM_PKI" list
(cd "$w/esp" && find . -type f | sort | sed 's/^/   /')

echo "== Booting the ESP: OVMF with Secure Boot enforcing, swtpm, systemd-boot, our stub"
vm_make_disk "$w/esp" "$w/disk.img"
vm_boot demo "$w/disk.img" --sb --tpm
entry=$(basename "$(lzbt_entry "$w" 3)")
stub_inputs "$w" "$(lzbt_entry "$w" 3)"
predicted=$(stub_predict_pcr11 "$w")

check() { # WHAT COMMAND...
	if "${@:2}" >/dev/null 2>&1; then echo "  ok    $1"; else echo "  FAIL  $1"; failed=1; fi
}
failed=0
echo "== Verified"
check "the initrd of generation 3 started (serial console marker)" vm_log_has demo '^LZBT MARKER initrd-reached'
check "Secure Boot was enforcing (SecureBoot=1, SetupMode=0)" \
	bash -c "source '$ROOT/test/vm/lib.sh'; vm_assert_value demo SecureBoot 1 && vm_assert_value demo SetupMode 0"
check "systemd-boot picked the newest entry $entry" \
	[ "$(vm_log_value demo 'VAR LoaderEntrySelected')" = "$(utf16_hex "$entry")" ]
check "the kernel got generation 3's command line" vm_log_has demo '^LZBT CMDLINE .*lzbt.test=gen3'
check "a TPM was present (swtpm): the guest read PCR 11 from it" [ -n "$(vm_log_value demo PCR11)" ]
check "PCR 11 in the TPM equals systemd-measure's prediction ($predicted)" \
	[ "$(vm_log_value demo PCR11)" = "$predicted" ]
check "the stub reported itself (StubInfo) and the measurement (StubPcrKernelImage=11)" \
	[ "$(vm_log_value demo 'VAR StubPcrKernelImage')" = "$(utf16_hex 11)" ]
check "lanzatool verify: every signature and pinned hash on the ESP" \
	"$LZB_TOOL" --esp-path="$w/esp" --no-esp-checks --pki-bundle="$VM_PKI" verify
echo "Serial log: $(vm_log demo)"
exit "$failed"

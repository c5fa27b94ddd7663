#!/usr/bin/env bash
# `lanzatool enroll-keys` against a real efivarfs: a VM in setup mode boots an entry whose initrd carries
# lanzatool (the binary and the shared libraries ldd names) and a bundle from create-keys; the guest
# enrolls, with the guard reading the firmware's real event log (swtpm). After the reboot the guest's
# `lanzatool status --json` reports user mode and Secure Boot on, `lanzatool list-enrolled-keys --json`
# shows the bundle's certificates (fingerprints as openssl computes them), and enroll-keys refuses to run
# again. Two boots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"

vm_prepare
w=$(vm_workdir keys-live-enroll)
"$LZB_TOOL" -q --pki-bundle="$w/pki" --key-size=2048 create-keys || vm_fail keys-live-1 "create-keys failed"

# What the guest runs from the lzbt.script=1 hook; its lines go to the serial console.
mkdir -p "$w/extra"
vm_add_program "$w/extra" "$LZB_TOOL" usr/bin/lanzatool
cp -r "$w/pki" "$w/extra/pki"
cat >"$w/extra/lzbt-script" <<'EOF'
#!/bin/busybox sh
echo "LZBT STATUS $(lanzatool --json=short status 2>/dev/null)"
lanzatool -v --pki-bundle=/pki enroll-keys >/tmp/enroll.out 2>&1
rc=$?
sed 's/^/LZBT ENROLL /' /tmp/enroll.out
echo "LZBT ENROLL-RC $rc"
echo "LZBT STATUS-AFTER $(lanzatool --json=short status 2>/dev/null)"
echo "LZBT ENROLLED $(lanzatool --json=short list-enrolled-keys 2>/dev/null)"
EOF
chmod 0755 "$w/extra/lzbt-script"
vm_initrd_extend "$w/initrd" "$w/extra"

kdir=$w/store/k-linux-6.1.0
mkdir -p "$kdir" && ln -sf "$VM_KERNEL" "$kdir/bzImage"
GEN_ROOT=$w KERNEL=$kdir/bzImage INITRD=$w/initrd \
	PARAMS='"console=ttyS0", "panic=-1", "quiet", "no_timer_check", "lzbt.test=gen1", "lzbt.script=1"' mk_generation 1 k
lzbt_install "$w" --pki-bundle="$w/pki" 1 || vm_fail keys-live-1 "install failed"
vm_make_disk "$w/esp" "$w/disk.img"
cp "$VM_OVMF_VARS" "$w/vars.fd"

status() { # NAME LINE KEY: the JSON value of KEY in the "LZBT LINE" status line
	vm_log_value "$1" "$2" | "$PY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[sys.argv[1]]))' "$3"
}
PY=/usr/bin/python3

vm_boot keys-live-1 "$w/disk.img" --vars "$w/vars.fd" --tpm
# Boot 1: "LZBT SetupMode=1"/"SecureBoot=0" show the starting state; the "LZBT ENROLL" lines are lanzatool's
# own output in the guest and "LZBT ENROLL-RC" its exit status. Boot 2: "LZBT SecureBoot=1"/"SetupMode=0"
# come from the firmware, so the variables were really written; "LZBT CMDLINE ... gen1": the entry signed by
# the enrolled db key booted.
vm_assert_value keys-live-1 SetupMode 1
vm_assert_value keys-live-1 SecureBoot 0
vm_assert_has keys-live-1 '^LZBT ENROLL lanzatool: enrolling db'
vm_assert_value keys-live-1 ENROLL-RC 0
vm_assert_has keys-live-1 '^LZBT ENROLL lanzatool: enrolled db, KEK and PK; the firmware is in user mode'
# The guard read OVMF's real log: our certificate alone in db is fine where no option ROMs ran.
vm_assert_has keys-live-1 '^LZBT ENROLL lanzatool: /sys/kernel/security/tpm0/binary_bios_measurements: no option ROM drivers'
[[ $(status keys-live-1 STATUS setupMode) == true ]] || vm_fail keys-live-1 "status before: not setup mode"
[[ $(status keys-live-1 STATUS-AFTER setupMode) == false ]] || vm_fail keys-live-1 "status after: setup mode"

vm_boot keys-live-2 "$w/disk.img" --vars "$w/vars.fd"
vm_assert_value keys-live-2 SecureBoot 1
vm_assert_value keys-live-2 SetupMode 0
vm_assert_has keys-live-2 '^LZBT CMDLINE .*lzbt.test=gen1( |$)'
[[ $(status keys-live-2 STATUS secureBoot) == true ]] || vm_fail keys-live-2 "status: Secure Boot not on"
[[ $(status keys-live-2 STATUS setupMode) == false ]] || vm_fail keys-live-2 "status: not user mode"
for k in PK KEK db; do
	want=$(openssl x509 -in "$w/pki/keys/$k/$k.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
	have=$(vm_log_value keys-live-2 ENROLLED | "$PY" -c 'import json, sys; print(" ".join(e["sha256"] for e in json.load(sys.stdin)[sys.argv[1]]))' "$k")
	[[ $have == "$want" ]] || vm_fail keys-live-2 "list-enrolled-keys: $k holds '$have', expected '$want'"
done
vm_assert_value keys-live-2 ENROLL-RC 1
vm_assert_has keys-live-2 '^LZBT ENROLL lanzatool: the firmware is in user mode'

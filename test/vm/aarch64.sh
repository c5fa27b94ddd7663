# shellcheck shell=bash
# The aarch64 VM chain: QEMU -M virt (TCG) with AAVMF (Secure Boot capable), swtpm as tpm-tis-device,
# and Debian's arm64 kernel, systemd-boot and busybox, fetched through a private apt configuration (the
# system's apt is never touched). Everything lands in $VM_CACHE/aarch64. Source after lib.sh.

AA64_CACHE=$VM_CACHE/aarch64
AA64_APT=$AA64_CACHE/apt
AA64_PKGS=$AA64_CACHE/pkgs
AA64_CODE=/usr/share/AAVMF/AAVMF_CODE.fd
AA64_VARS=/usr/share/AAVMF/AAVMF_VARS.fd
AA64_VARS_ENROLLED=$AA64_CACHE/vars-enrolled.fd
AA64_SUITES=${AA64_SUITES:-bookworm bookworm-updates}
AA64_SECURITY_SUITE=${AA64_SECURITY_SUITE:-bookworm-security}
# Debian's arm64 binaries: systemd-boot, the kernel, busybox for the initrd.
AA64_SDBOOT=$AA64_PKGS/systemd-bootaa64.efi
AA64_KERNEL=$AA64_PKGS/vmlinuz
AA64_INITRD=$AA64_CACHE/initrd.cpio.gz
# shellcheck source=test/lib/apt-private.sh
source "$VM_DIR/../lib/apt-private.sh"

_aa64_apt() { apt_private "$AA64_APT" "$@"; } # apt-get|apt-cache ARG...: the private arm64 configuration

_aa64_apt_update() { # the package lists, refreshed when older than a day (suites move)
	# shellcheck disable=SC2086 # the suites are a space-separated list
	apt_private_init "$AA64_APT" --arch=arm64 $AA64_SUITES "debian-security/$AA64_SECURITY_SUITE"
}

_aa64_kernel_pkg() { # the package linux-image-arm64 depends on
	_aa64_apt apt-cache depends linux-image-arm64 | awk '/Depends: linux-image-/{print $2; exit}'
}

_aa64_versions() { # PACKAGE...: "name=version" of each, as the lists say today (the stamp key)
	local p
	for p; do echo "$p=$(_aa64_apt apt-cache policy "$p" | awk '/Candidate:/{print $2}')"; done
}

_aa64_build_pkgs() { # PACKAGE=VERSION...: the four binaries we need, out of Debian's arm64 packages
	local tmp=$AA64_PKGS.tmp p vmlinuz
	rm -rf "$tmp" "$AA64_PKGS"
	mkdir -p "$tmp/deb" "$tmp/x"
	apt_private_download "$AA64_APT" "$tmp/deb" "$@"
	for p in "$tmp"/deb/*.deb; do dpkg-deb -x "$p" "$tmp/x"; done
	vmlinuz=$(echo "$tmp"/x/boot/vmlinuz-*)
	echo "${vmlinuz##*/vmlinuz-}" >"$tmp/kver"
	mv "$vmlinuz" "$tmp/vmlinuz"
	mv "$tmp"/x/boot/config-* "$tmp/config"
	mv "$tmp"/x/lib/modules/*/kernel/fs/efivarfs/efivarfs.ko "$tmp/"
	mv "$tmp"/x/usr/lib/systemd/boot/efi/systemd-bootaa64.efi "$tmp/"
	mv "$tmp"/x/bin/busybox "$tmp/busybox"
	rm -rf "${tmp:?}/deb" "${tmp:?}/x"
	mv "$tmp" "$AA64_PKGS"
}

_aa64_build_initrd() { # the test initrd (test/vm/initrd-init) with arm64 busybox and efivarfs.ko
	_vm_initrd_once "$AA64_CACHE/initrd.a" "$AA64_PKGS/busybox" "$AA64_PKGS/efivarfs.ko"
	_vm_initrd_once "$AA64_CACHE/initrd.b" "$AA64_PKGS/busybox" "$AA64_PKGS/efivarfs.ko"
	cmp -s "$AA64_CACHE/initrd.a" "$AA64_CACHE/initrd.b" || { _vm_say "arm64 initrd is not reproducible"; return 1; }
	mv "$AA64_CACHE/initrd.a" "$AA64_INITRD"
	rm "$AA64_CACHE/initrd.b"
}

_aa64_build_vars() { # boot Debian's systemd-bootaa64 once in setup mode; it enrolls our keys and resets
	local w=$AA64_CACHE/enroll
	rm -rf "$w"
	mkdir -p "$w/esp/EFI/BOOT" "$w/esp/loader"
	vm_sign "$AA64_SDBOOT" "$w/esp/EFI/BOOT/BOOTAA64.EFI"
	printf 'timeout 0\nsecure-boot-enroll force\n' >"$w/esp/loader/loader.conf"
	# Not in a VM as far as systemd-boot 252 can tell on arm64: it counts down 15 s before enrolling.
	VM_ARCH=aa64 _vm_enroll "$w" "$AA64_VARS" "$AA64_VARS_ENROLLED" 300
}

# Kernel, systemd-boot, busybox initrd and enrolled AAVMF variables in $AA64_CACHE; after vm_prepare
# (which makes the test PKI). Sets AA64_KVER.
aa64_prepare() {
	local lock kpkg pkgs
	mkdir -p "$AA64_CACHE"
	exec {lock}>"$AA64_CACHE/lock"
	flock -w 1800 "$lock"
	_aa64_apt_update
	kpkg=$(_aa64_kernel_pkg)
	[[ -n $kpkg ]] || { _vm_say "cannot resolve linux-image-arm64 (arm64 lists in $AA64_APT)"; return 1; }
	mapfile -t pkgs < <(_aa64_versions "$kpkg" systemd-boot-efi busybox-static)
	_vm_step aa64-pkgs "$AA64_KERNEL" "1 ${pkgs[*]}" _aa64_build_pkgs "${pkgs[@]}"
	AA64_KVER=$(<"$AA64_PKGS/kver")
	_vm_step aa64-initrd "$AA64_INITRD" \
		"$(_vm_key 1 "$VM_DIR/initrd-init" "$AA64_PKGS/busybox" "$AA64_PKGS/efivarfs.ko")" _aa64_build_initrd
	_vm_step aa64-vars "$AA64_VARS_ENROLLED" \
		"$(_vm_key 1 "$VM_PKI"/{PK,KEK,db}.auth "$AA64_SDBOOT" "$AA64_CODE" "$AA64_VARS")" _aa64_build_vars
	export AA64_KVER
	exec {lock}>&-
}

# NAME DISK [--sb|--no-sb] [vm_boot option...]: boot on aarch64; --sb (default) with our keys enrolled,
# --no-sb with the empty store (setup mode). Longer default timeout: TCG emulates every arm64 instruction.
aa64_boot() {
	local name=$1 disk=$2 vars
	shift 2
	vars=$VM_LOGDIR/$name.vars.fd
	mkdir -p "$VM_LOGDIR"
	cp "$AA64_VARS_ENROLLED" "$vars"
	if [[ ${1:-} == --no-sb ]]; then cp "$AA64_VARS" "$vars" && shift; elif [[ ${1:-} == --sb ]]; then shift; fi
	VM_ARCH=aa64 vm_boot "$name" "$disk" --vars "$vars" --timeout 300 "$@"
}

# STUB SECTION OUT: a section's bytes (VirtualSize of them, as the stub and systemd measure it), read with
# python3-pefile: binutils on this host does not know AArch64 PE images.
aa64_section() {
	/usr/bin/python3 - "$@" <<'PY'
import sys, pefile
pe = pefile.PE(sys.argv[1])
s = [s for s in pe.sections if s.Name.rstrip(b"\0") == sys.argv[2].encode()]
if len(s) != 1:
    sys.exit(f"{sys.argv[1]}: {len(s)} sections named {sys.argv[2]}")
open(sys.argv[3], "wb").write(s[0].get_data()[: s[0].Misc_VirtualSize])
PY
}

aa64_machine() { # IMAGE: the PE machine type, as python3-pefile reads it (0xaa64 for AArch64)
	/usr/bin/python3 -c 'import sys, pefile; print(hex(pefile.PE(sys.argv[1], fast_load=True).FILE_HEADER.Machine))' "$1"
}

# TPM_DIR QEMU_PIDFILE: "LZBT TPM PCRn=<hex>" lines for the serial log, read from swtpm (tpm-pcr-read.py)
# after QEMU is killed outright, so that it cannot shut the TPM down. Called by _vm_qemu.
aa64_tpm_report() {
	local pid i
	pid=$(cat "$2" 2>/dev/null) || { echo "LZBT TPM unread: no QEMU pid"; return 0; }
	kill -9 "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_vm_alive "$pid" || break
		sleep 0.1
	done
	"$VM_DIR/tpm-pcr-read.py" "$1/sock" 4 7 11 12 13 2>&1 | sed 's/^/LZBT TPM /'
}

# STUB OUT .SECTION=FILE...: an embedded UKI from an aa64 stub, sections added by llvm-objcopy (binutils
# here cannot write AArch64 PE images), which places each after the last on a 4 KiB boundary.
aa64_mkuki() {
	local stub=$1 out=$2 spec args=()
	shift 2
	for spec; do args+=(--add-section "$spec" --set-section-flags "${spec%%=*}=readonly,data"); done
	llvm-objcopy "${args[@]}" "$stub" "$out"
}

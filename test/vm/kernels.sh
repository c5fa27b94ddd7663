# shellcheck shell=bash
# Kernels and systemd-boot builds of other Debian releases, fetched into the VM cache through a private apt
# configuration (the system's /etc/apt is never touched). Source after lib.sh, then call kernels_prepare.
#
#   KERNEL_SUITES              bullseye bookworm trixie sid
#   $KERNELS_DIR/SUITE/vmlinuz that suite's linux-image-amd64 kernel (and SUITE/version)
#   $KERNELS_DIR/SUITE/modules/ the TPM and efivarfs modules when that kernel has them as modules (bullseye),
#                              for a test initrd that reads PCRs: KERNEL_MODULES, in insmod order
#   KERNELS_SDBOOT_SID         systemd-boot of sid's systemd-boot-efi (and its version in .version)
#
# Versions are never pinned: each suite's current version is asked from apt (madison), and a kernel is
# fetched again when that version changes.

KERNEL_SUITES=(bullseye bookworm trixie sid)
KERNELS_DIR=$VM_CACHE/kernels
KERNELS_APT=$VM_CACHE/apt-other
KERNELS_SDBOOT_SID=$KERNELS_DIR/sdboot-sid/systemd-bootx64.efi
KERNEL_MODULES=(rng-core tpm tpm_tis_core tpm_tis efivarfs)
# shellcheck source=test/lib/apt-private.sh
source "$VM_DIR/../lib/apt-private.sh"

_kernels_apt() { apt_private "$KERNELS_APT" "$1" -q "${@:2}"; } # apt-get|apt-cache ARGS...

_kernels_update() { apt_private_init "$KERNELS_APT" "${KERNEL_SUITES[@]}"; } # lists refreshed once a day

_kernels_version() { apt_private_version "$KERNELS_APT" "$@"; } # PACKAGE SUITE

_kernels_depends() { # PACKAGE VERSION PATTERN: the first dependency of PACKAGE=VERSION matching PATTERN
	_kernels_apt apt-cache show "$1=$2" | awk '/^Depends:/{sub(/^Depends:/, ""); print; exit}' | tr ',' '\n' |
		sed -n "s/^ *\($3[^ ]*\) .*/\1/p" | head -n 1
}

_kernels_fetch() { # DIR PACKAGE=VERSION GLOB...: extract the files matching GLOB from the package into DIR.tmp
	local dir=$1 tmp=$1.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	apt_private_download "$KERNELS_APT" "$tmp" "$2"
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards "${@:3}"
}

_kernels_modules() { # DIR: KERNEL_MODULES found in DIR.tmp's package, flat into DIR.tmp/modules
	local deb m files
	deb=$(echo "$1".tmp/*.deb)
	mkdir -p "$1.tmp/modules"
	for m in "${KERNEL_MODULES[@]}"; do
		files=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -E "/$m\.ko\$" || true)
		[[ -n $files ]] || continue
		dpkg-deb --fsys-tarfile "$deb" | tar -x -O "$files" >"$1.tmp/modules/$m.ko"
	done
}

# SUITE: SUITE/vmlinuz. The image is in linux-image-<abi> up to trixie, in linux-binary-<abi> from sid on.
_kernels_build() {
	local suite=$1 v=$2 dir=$KERNELS_DIR/$1 img bin f
	img=$(_kernels_depends linux-image-amd64 "$v" linux-image-)
	[[ -n $img ]] || { _vm_say "$suite: no linux-image dependency in linux-image-amd64 $v"; return 1; }
	bin=$(_kernels_depends "$img" "$v" linux-binary-)
	if [[ -n $bin ]]; then
		_kernels_fetch "$dir" "$bin=$v" './usr/lib/modules/*/vmlinuz'
	else
		_kernels_fetch "$dir" "$img=$v" './boot/vmlinuz-*'
		_kernels_modules "$dir"
	fi
	f=$(find "$dir.tmp" -name 'vmlinuz*' -type f | head -n 1)
	[[ -s $f ]] || { _vm_say "$suite: no vmlinuz in $img"; return 1; }
	rm -rf "$dir" && mkdir -p "$dir/modules"
	mv "$f" "$dir/vmlinuz"
	[[ ! -d $dir.tmp/modules ]] || mv "$dir.tmp/modules" "$dir/"
	echo "$v" >"$dir/version"
	rm -rf "$dir.tmp"
}

_kernels_build_sdboot() { # sid's systemd-boot-efi
	local dir=${KERNELS_SDBOOT_SID%/*} f
	_kernels_fetch "$dir" "systemd-boot-efi=$1" './usr/lib/systemd/boot/efi/systemd-bootx64.efi'
	f=$dir.tmp/usr/lib/systemd/boot/efi/systemd-bootx64.efi
	[[ -s $f ]] || { _vm_say "no systemd-bootx64.efi in systemd-boot-efi $1"; return 1; }
	rm -rf "$dir" && mkdir -p "$dir"
	mv "$f" "$KERNELS_SDBOOT_SID"
	echo "$1" >"$KERNELS_SDBOOT_SID.version"
	rm -rf "$dir.tmp"
}

kernels_prepare() { # every suite's kernel and sid's systemd-boot, each refetched when its version moves
	local s v lock
	mkdir -p "$KERNELS_DIR"
	exec {lock}>"$KERNELS_DIR/lock"
	flock -w 1800 "$lock"
	_kernels_update
	for s in "${KERNEL_SUITES[@]}"; do
		v=$(_kernels_version linux-image-amd64 "$s")
		[[ -n $v ]] || { _vm_say "$s: no linux-image-amd64 in the private apt lists"; return 1; }
		_vm_step "kernel-$s" "$KERNELS_DIR/$s/vmlinuz" "2 $v" _kernels_build "$s" "$v"
	done
	v=$(_kernels_version systemd-boot-efi sid)
	[[ -n $v ]] || { _vm_say "sid: no systemd-boot-efi in the private apt lists"; return 1; }
	_vm_step sdboot-sid "$KERNELS_SDBOOT_SID" "1 $v" _kernels_build_sdboot "$v"
	exec {lock}>&-
}

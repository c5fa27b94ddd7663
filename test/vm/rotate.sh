# shellcheck shell=bash
# Fixtures for the rotate-keys tests: an ESP whose one entry boots an initrd that carries lanzatool,
# the enrolled test PKI and its own generation, mounts the ESP and runs a test's script against the
# real firmware variables. Source after lib.sh and stub.sh, then call rotate_prepare.

ROTATE_DB_GUID=d719b2cb-3d3a-4596-a3bc-dad00e67656f
ROTATE_GLOBAL_GUID=8be4df61-93ca-11d2-aa0d-00e098032b8c
# What the guest kernel needs to reach the ESP: virtio-blk and vfat are modules in Debian's kernel.
# In load order: each after those it depends on (modinfo -F depends).
ROTATE_MODULES=(drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
	drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
	fs/fat/fat fs/fat/vfat fs/nls/nls_cp437 fs/nls/nls_ascii)
ROTATE_PARAMS='"console=ttyS0", "panic=-1", "quiet", "no_timer_check", "lzbt.test=gen1", "lzbt.script=1"'
ROTATE_EXTRA_PROGRAMS=()

_rotate_build_modules() { # KPKG: the modules above, from the kernel package vm_prepare boots
	local tmp=$VM_CACHE/guest-modules.tmp m
	rm -rf "$tmp" "$VM_CACHE/guest-modules"
	mkdir -p "$tmp"
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$1" >/dev/null)
	for m in "${ROTATE_MODULES[@]}"; do
		dpkg-deb --fsys-tarfile "$tmp/$1"_*.deb | tar -x -O --wildcards "./lib/modules/*/kernel/$m.ko" >"$tmp/${m##*/}.ko"
	done
	rm "$tmp/$1"_*.deb
	mv "$tmp" "$VM_CACHE/guest-modules"
}

# The start of every guest script: modules, the ESP on /mnt/esp (the script ends when it holds
# lzbt-test/done: the rotated entry boots the same initrd), the generation's kernel and initrd
# (the ones on the ESP: the same content, so never copied again), and lzbt(): lanzatool as install
# runs it, with the bundle /lzbt/pki.
_rotate_script_head() {
	cat <<EOF
#!/bin/busybox sh
DB_VAR=/sys/firmware/efi/efivars/db-$ROTATE_DB_GUID
KEK_VAR=/sys/firmware/efi/efivars/KEK-$ROTATE_GLOBAL_GUID
for m in ${ROTATE_MODULES[*]##*/}; do insmod /lzbt/modules/\$m.ko; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda1 ] && break; sleep 1; done
mkdir -p /mnt/esp
if ! mount -t vfat /dev/vda1 /mnt/esp; then echo "LZBT ROTATE no-esp"; exit 0; fi
if [ -e /mnt/esp/lzbt-test/done ]; then echo "LZBT ROTATE done-before"; umount /mnt/esp; exit 0; fi
BOOT=/mnt/esp
if [ -n "${ROTATE_XBOOTLDR:-}" ]; then
	BOOT=/mnt/boot
	mkdir -p \$BOOT
	mount -t vfat /dev/vda2 \$BOOT || echo "LZBT ROTATE no-xbootldr"
fi
mkdir -p /mnt/esp/lzbt-test /lzbt/gen/store/k-linux-6.1.0
ln -s \$BOOT/EFI/nixos/kernel-*.efi /lzbt/gen/store/k-linux-6.1.0/bzImage
ln -s \$BOOT/EFI/nixos/initrd-*.efi /lzbt/gen/store/k-linux-6.1.0/initrd
lzbt() {
	/lzbt/bin/lanzatool --esp-path=/mnt/esp ${ROTATE_XBOOTLDR:+--boot-path=/mnt/boot} --pki-bundle=/lzbt/pki \\
		--stub=/lzbt/stub.efi --systemd-boot=/lzbt/systemd-bootx64.efi --no-variables --timeout=0 "\$@"
}
save_vars() { # NAME: db and KEK as efivarfs shows them, into lzbt-test/{db,KEK}-NAME.var
	cp \$DB_VAR /mnt/esp/lzbt-test/db-\$1.var
	cp \$KEK_VAR /mnt/esp/lzbt-test/KEK-\$1.var
}
finish() { # the new certificates for the host, then done
	cp /lzbt/pki/keys/db/db.pem /lzbt/pki/keys/KEK/KEK.pem /mnt/esp/lzbt-test/
	for k in /lzbt/pki/keys/*/*.key; do echo "LZBT KEYMODE \$(stat -c %a "\$k") \${k#/lzbt/pki/}"; done
	if [ -e /lzbt/pki/rotate-keys ]; then echo "LZBT ROTATE leftover"; fi
	touch /mnt/esp/lzbt-test/done
	[ \$BOOT = /mnt/esp ] || umount \$BOOT
	umount /mnt/esp
}
EOF
}

# DIR TOOL BODY: DIR/guest/, the second archive of the entry's initrd: TOOL (lanzatool) and its
# libraries, the bundle DIR/pki, the stub, systemd-boot, the modules, generation 1 as the guest sees
# it, and /lzbt-script (the head above, then BODY).
_rotate_guest_archive() {
	local root=$1/guest gen=/lzbt/gen top=/lzbt/gen/store/top1-nixos-system
	rm -rf "$root"
	mkdir -p "$root/lzbt/modules" "$root$top" "$root$gen/profiles" "$root/lzbt/pki"
	vm_add_program "$root" "$2" lzbt/bin/lanzatool
	local extra
	for extra in "${ROTATE_EXTRA_PROGRAMS[@]}"; do # more programs for the script, in /lzbt/bin
		vm_add_program "$root" "$extra" "lzbt/bin/${extra##*/}"
	done
	cp -r "$1/pki/keys" "$1/pki/GUID" "$root/lzbt/pki/"
	cp "$LZB_STUB" "$root/lzbt/stub.efi"
	cp "$VM_SDBOOT" "$root/lzbt/systemd-bootx64.efi"
	cp "$VM_CACHE"/guest-modules/*.ko "$root/lzbt/modules/"
	{ _rotate_script_head && printf '%s\n' "$3"; } >"$root/lzbt-script"
	[[ -z ${ROTATE_GUEST_HOOK:-} ]] || "$ROTATE_GUEST_HOOK" "$root"
	chmod 0755 "$root/lzbt-script"
	bootspec_json "$gen/store/k-linux-6.1.0/bzImage" "$gen/store/k-linux-6.1.0/initrd" "$top" \
		"$ROTATE_PARAMS" >"$root$top/boot.json"
	ln -s "$top" "$root$gen/profiles/system-1-link"
}

# rotate_prepare DIR TOOL BODY: DIR/pki (a copy of the enrolled test PKI), DIR/esp with generation 1
# installed by the host's lanzatool with that bundle, DIR/esp-old (a copy) and DIR/disk.img. Optional
# hooks, function names: $ROTATE_GUEST_HOOK GUEST_ROOT (more for the guest's archive) and
# $ROTATE_ESP_HOOK ESP_DIR (more on the ESP, before the copy and the disk image are made).
rotate_prepare() {
	local w=$1 kpkg
	kpkg=$(_vm_kernel_pkg)
	_vm_step guest-modules "$VM_CACHE/guest-modules/vfat.ko" "1 $kpkg ${ROTATE_MODULES[*]}" \
		_rotate_build_modules "$kpkg"
	mkdir -p "$w/pki"
	cp -r "$VM_PKI/keys" "$VM_PKI/GUID" "$w/pki/"
	_rotate_guest_archive "$w" "$2" "$3"
	vm_initrd_extend "$w/initrd-rotate" "$w/guest"
	# The kernel's directory names its version, and with it the payloads' names, as in the guest.
	mkdir -p "$w/store/k-linux-6.1.0"
	ln -sf "$VM_KERNEL" "$w/store/k-linux-6.1.0/bzImage"
	ln -sf "$w/initrd-rotate" "$w/store/k-linux-6.1.0/initrd"
	KERNEL=$w/store/k-linux-6.1.0/bzImage INITRD=$w/store/k-linux-6.1.0/initrd GEN_ROOT=$w \
		PARAMS=$ROTATE_PARAMS mk_generation 1 k
	mkdir -p "$w/esp" "$w/no-efivars"
	# ROTATE_XBOOTLDR=1: the entries on an XBOOTLDR partition (DIR/xbootldr, the disk's second partition).
	[[ -z ${ROTATE_XBOOTLDR:-} ]] || mkdir -p "$w/xbootldr"
	# An empty efivarfs: the host's own firmware (its db, Secure Boot state) has nothing to say about
	# the VM's ESP, and on a Secure Boot host the db-trust guard would read the host's db.
	LANZATOOL_EFIVARFS=$w/no-efivars LANZATOOL_RELAX_ESP_CHECKS=1 "$LZB_TOOL" -q --esp-path="$w/esp" \
		${ROTATE_XBOOTLDR:+--boot-path="$w/xbootldr"} \
		--pki-bundle="$w/pki" --stub="$LZB_STUB" --no-variables --timeout=0 install "$w/profiles/system-1-link"
	[[ -z ${ROTATE_ESP_HOOK:-} ]] || "$ROTATE_ESP_HOOK" "$w/esp"
	cp -r "$w/esp" "$w/esp-old"
	if [[ -n ${ROTATE_XBOOTLDR:-} ]]; then
		vm_make_disk_xbootldr "$w/esp" "$w/xbootldr" "$w/disk.img"
	else
		vm_make_disk "$w/esp" "$w/disk.img"
	fi
}

# DIR: DIR/out/ gets what the guest left on the ESP (lzbt-test/) and the ESP's EFI/ directory.
rotate_fetch() {
	rm -rf "$1/out"
	mkdir -p "$1/out"
	MTOOLS_SKIP_CHECK=1 mcopy -s -n -i "$1/disk.img@@1M" ::/lzbt-test ::/EFI "$1/out/"
	if [[ -n ${ROTATE_XBOOTLDR:-} ]]; then # the second partition, after the 64 MiB ESP: DIR/out/boot/EFI
		mkdir -p "$1/out/boot"
		MTOOLS_SKIP_CHECK=1 mcopy -s -n -i "$1/disk.img@@65M" ::/EFI "$1/out/boot/"
	fi
}

# NAME DIR FILE...: each FILE verifies (sbverify) with the new db certificate the guest left in DIR/out,
# and none with the old one (the test PKI's).
rotate_assert_resigned() {
	local n=$1 out=$2/out f
	shift 2
	for f; do
		sbverify --cert "$out/lzbt-test/db.pem" "$f" >/dev/null 2>&1 || vm_fail "$n" "$f: not signed by the new key"
		sbverify --cert "$VM_PKI/keys/db/db.pem" "$f" >/dev/null 2>&1 && vm_fail "$n" "$f: still signed by the old key"
	done
	return 0
}

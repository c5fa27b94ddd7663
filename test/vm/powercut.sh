# shellcheck shell=bash
# Power cuts during `lanzatool install` on a real FAT32 ESP. A guest (the distribution kernel booted
# directly, its virtio/vfat/nls modules from the same package, busybox, lanzatool with its shared
# libraries) mounts the ESP partition of a GPT disk image, prints a marker and installs; the host
# kills QEMU (SIGKILL, by PID) at a seeded random instant within the install's measured duration.
# Each cut image is then judged only with tools we did not write: fsck.fat -n, mtools (the whole ESP
# copied out), test/install/check-esp.py, sbverify and objcopy on both systemd-boot copies, and a
# Secure Boot + TPM boot that must reach the previous or the new default entry.
#
# What a kill of QEMU models: every write the guest kernel had not yet issued to the disk is lost;
# what it had issued is kept (QEMU writes through to the image file). The disk's own volatile cache
# reordering writes between flushes is not modelled; against it the protocol relies on its flushes.
#
# Source after lib.sh, stub.sh and rotate.sh (for the guest modules). Scenarios, each from its own
# ESP: new  - generations 3..7 (new kernel and initrds) on an ESP holding 1..3, --configuration-limit=5
#             (generations 1 and 2 are collected);
#       stub  - the same generations with a changed stub binary on the ESP "new" left: every stub is
#             replaced under its name;
#       sdboot - the same with a newer systemd-boot (another Debian release's systemd-boot-efi).

PC_SCENARIOS=(new stub sdboot)
PC_OTHER_SUITE=trixie
PC_INSTALL_TIMEOUT=600
PC_PREP_VERSION=3
PC_PY=/usr/bin/python3 # Debian's, with python3-pefile
# shellcheck source=test/lib/apt-private.sh
source "$VM_DIR/../lib/apt-private.sh"

# ---- preparation ----------------------------------------------------------------

_pc_fetch_sdboot() { # systemd-bootx64.efi of $PC_OTHER_SUITE, through a private apt configuration
	# Its own root: kernels.sh's apt-other lists other suites.
	local d=$VM_CACHE/apt-$PC_OTHER_SUITE tmp=$VM_CACHE/sdboot-other.tmp v
	apt_private_init "$d" "$PC_OTHER_SUITE"
	v=$(apt_private_version "$d" systemd-boot-efi "$PC_OTHER_SUITE")
	[[ -n $v ]] || { _vm_say "no systemd-boot-efi in $PC_OTHER_SUITE"; return 1; }
	rm -rf "$tmp" "$VM_CACHE/sdboot-other"
	mkdir -p "$tmp"
	apt_private_download "$d" "$tmp" "systemd-boot-efi=$v"
	dpkg-deb --fsys-tarfile "$tmp"/systemd-boot-efi_*.deb |
		tar -x -O ./usr/lib/systemd/boot/efi/systemd-bootx64.efi >"$tmp/systemd-bootx64.efi"
	rm "$tmp"/*.deb
	mv "$tmp" "$VM_CACHE/sdboot-other"
}

_pc_initrd_variant() { # OUT NAME: the test initrd plus a one-file archive, so that its content differs
	local d
	d=$(mktemp -d)
	echo "$2" >"$d/variant"
	touch -d @0 "$d/variant" "$d"
	vm_initrd_extend "$1" "$d"
	rm -rf "$d"
}

# DIR: DIR/guest/, the second archive of the guest's initrd: lanzatool and its libraries, the test
# PKI, both stubs, both systemd-boots, the modules, generations 1..7 under /lzbt/gen and /lzbt-script.
_pc_guest_tree() {
	local w=$1 root=$1/guest gen k n kdir spec
	rm -rf "$root"
	mkdir -p "$root/lzbt/modules" "$root/lzbt/pki"
	vm_add_program "$root" "$LZB_TOOL" lzbt/bin/lanzatool
	cp -r "$VM_PKI/keys" "$VM_PKI/GUID" "$root/lzbt/pki/"
	cp "$LZB_STUB" "$root/lzbt/stub-a.efi"
	# A changed stub binary: the same code, another version in .sbat (same length, so no relayout).
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); n = d.replace(b"lanzaboote,0.1.0,", b"lanzaboote,0.1.1,", 1)
assert n != d; open(sys.argv[2], "wb").write(n)' "$LZB_STUB" "$root/lzbt/stub-b.efi"
	cp "$VM_SDBOOT" "$root/lzbt/sdboot-a.efi"
	cp "$VM_CACHE/sdboot-other/systemd-bootx64.efi" "$root/lzbt/sdboot-b.efi"
	cp "$VM_CACHE"/guest-modules/*.ko "$root/lzbt/modules/"
	# Kernels: one file; generations 6 and 7 name another version, so a kernel payload is written too.
	cp "$VM_KERNEL" "$root/lzbt/vmlinuz"
	gen=$root/lzbt/gen
	for k in k1-linux-6.1.0 k2-linux-6.1.0 k3-linux-6.1.1; do
		mkdir -p "$gen/store/$k"
		ln -s /lzbt/vmlinuz "$gen/store/$k/bzImage"
	done
	cp "$VM_INITRD" "$gen/store/k1-linux-6.1.0/initrd"
	_pc_initrd_variant "$gen/store/k2-linux-6.1.0/initrd" k2
	_pc_initrd_variant "$gen/store/k3-linux-6.1.1/initrd" k3
	for n in 1 2 3 4 5 6 7; do
		case $n in 1 | 2 | 3) kdir=k1-linux-6.1.0 spec='' ;; 4) kdir=k2-linux-6.1.0 spec=docked ;;
		5) kdir=k2-linux-6.1.0 spec='' ;; 6) kdir=k3-linux-6.1.1 spec=docked ;; *) kdir=k3-linux-6.1.1 spec='' ;; esac
		# shellcheck disable=SC2086 # spec: none or one word
		GEN_ROOT=$gen KERNEL=$gen/store/$kdir/bzImage INITRD=$gen/store/$kdir/initrd \
			PARAMS="\"console=ttyS0\", \"panic=-1\", \"quiet\", \"no_timer_check\", \"lzbt.test=gen$n\"" mk_generation "$n" k $spec
		# The guest sees the tree at /lzbt/gen.
		sed -i "s|$root||g" "$gen/store/top$n-nixos-system/boot.json"
		ln -sfn "/lzbt/gen/store/top$n-nixos-system" "$gen/profiles/system-$n-link"
		touch -h -d "2026-11-0$n 12:00 UTC" "$gen/profiles/system-$n-link"
	done
	cat >"$root/lzbt-script" <<EOF
#!/bin/busybox sh
for m in ${ROTATE_MODULES[*]##*/}; do insmod /lzbt/modules/\$m.ko; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda1 ] && break; sleep 1; done
mkdir -p /mnt/esp
if ! mount -t vfat /dev/vda1 /mnt/esp; then echo "LZBT POWERCUT no-esp"; exit 0; fi
case " \$(cat /proc/cmdline) " in
*" lzbt.pc=base "*) stub=a sdboot=a gens="1 2 3" ;;
*" lzbt.pc=new "*) stub=a sdboot=a gens="3 4 5 6 7" ;;
*" lzbt.pc=stub "*) stub=b sdboot=a gens="3 4 5 6 7" ;;
*" lzbt.pc=sdboot "*) stub=a sdboot=b gens="3 4 5 6 7" ;;
*) echo "LZBT POWERCUT no-scenario"; umount /mnt/esp; exit 0 ;;
esac
links=
for g in \$gens; do links="\$links /lzbt/gen/profiles/system-\$g-link"; done
q=-q
case " \$(cat /proc/cmdline) " in *" lzbt.pcv=1 "*) q= ;; esac
echo "LZBT POWERCUT START"
set -- /lzbt/bin/lanzatool --esp-path=/mnt/esp --pki-bundle=/lzbt/pki --stub=/lzbt/stub-\$stub.efi \\
	--systemd-boot=/lzbt/sdboot-\$sdboot.efi --no-variables --timeout=0 --configuration-limit=5 \$q install \$links
case " \$(cat /proc/cmdline) " in
*" lzbt.freeze=1 "*)
	# The instant of the cut chosen by the guest: as soon as a temporary file exists, lanzatool is
	# stopped and everything is written back (what the periodic writeback may do at any instant);
	# the host cuts the power at the marker.
	"\$@" &
	pid=\$!
	while kill -0 \$pid 2>/dev/null; do
		for f in /mnt/esp/EFI/nixos/.lzbt-* /mnt/esp/EFI/Linux/.lzbt-*; do
			[ -s "\$f" ] || continue
			kill -STOP \$pid
			sync
			echo "LZBT POWERCUT FROZEN \${f#/mnt/esp/}"
			sleep 10000
		done
	done
	echo "LZBT POWERCUT FROZEN none"
	;;
*)
	# Not to the console: lanzatool's progress line (on a terminal only) would garble the log.
	"\$@" 2>/tmp/lzbt.err
	rc=\$?
	cat /tmp/lzbt.err
	echo "LZBT POWERCUT END rc=\$rc"
	;;
esac
umount /mnt/esp
EOF
	chmod 0755 "$root/lzbt-script"
}

# pc_guest_run DIR SCENARIO SOURCE_IMG DISK [CUT_DELAY_S ENDED]: _pc_guest_run_once on a fresh copy
# of SOURCE_IMG at DISK. A guest that dies before the start marker is booted again on a fresh copy,
# twice at most: under a loaded host, TCG guests sometimes fail the kernel's early timer check.
pc_guest_run() {
	local attempt rc w=$1 mode=$2 src=$3
	shift 3
	for attempt in 1 2 3; do
		cp "$src" "$1"
		rc=0
		_pc_guest_run_once "$w" "$mode" "$@" || rc=$?
		((rc == 2)) || return "$rc"
		_vm_say "installer guest: boot attempt $attempt failed before the install, booting again"
	done
	return 1
}

_pc_wait_line() { # LOG ERE PID: wait until LOG has a line matching ERE (0), or PID exits or time is up (1)
	local i
	for ((i = 0; i < PC_INSTALL_TIMEOUT * 50; i++)); do
		grep -aqE "$2" "$1" && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.02
	done
	grep -aqE "$2" "$1"
}

# DIR SCENARIO DISK [CUT_DELAY_S ENDED]: boots the installer guest (DIR/guest-initrd) on DISK; without
# CUT_DELAY_S it runs to the end and prints the install's duration (s); with it, QEMU is killed that
# long after the marker, and if the install ended before, its duration is written to ENDED; with
# CUT_DELAY_S "frozen", QEMU is killed when the guest says it froze the install (PC_APPEND=lzbt.freeze=1).
# PC_APPEND: more words for the guest's command line.
# QEMU runs without a wrapper: the power cut is a SIGKILL to QEMU's own PID.
_pc_guest_run_once() {
	local w=$1 mode=$2 disk=$3 delay=${4:-} ended=${5:-} log=$VM_LOGDIR/powercut-guest.log qpid t0 t1 i rc=0
	qemu-system-x86_64 -machine q35,accel=tcg -m 1024 -nographic -no-reboot -nic none \
		-kernel "$VM_KERNEL" -initrd "$w/guest-initrd" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check lzbt.script=1 lzbt.pc=$mode${PC_APPEND:+ $PC_APPEND}" \
		-drive "file=$disk,format=raw,if=virtio" </dev/null >"$log" 2>&1 &
	qpid=$!
	if ! _pc_wait_line "$log" '^LZBT POWERCUT START' "$qpid"; then
		kill -9 "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		_vm_say "installer guest ($mode) did not start the install, see $log"
		tr -d '\r' <"$log" | tail -n 5 >&2
		return 2
	fi
	t0=$EPOCHREALTIME
	if [[ $delay == frozen ]]; then # the guest chooses the instant (lzbt.freeze=1)
		_pc_wait_line "$log" '^LZBT POWERCUT FROZEN' "$qpid" || true
		kill -9 "$qpid" 2>/dev/null || true # the power cut
		wait "$qpid" 2>/dev/null || true
		return 0
	elif [[ -n $delay ]]; then
		# Until the instant of the cut; if the install ends first, its duration goes to ENDED.
		rm -f "$ended"
		while t1=$EPOCHREALTIME && awk -v a="$t0" -v b="$t1" -v d="$delay" 'BEGIN { exit !(b - a < d) }'; do
			if [[ ! -e $ended ]] && grep -aq '^LZBT POWERCUT END' "$log"; then
				awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >"$ended"
			fi
			sleep 0.02
		done
		kill -9 "$qpid" 2>/dev/null || true # the power cut
		wait "$qpid" 2>/dev/null || true
		return 0
	fi
	_pc_wait_line "$log" '^LZBT POWERCUT END' "$qpid" || true
	t1=$EPOCHREALTIME
	_pc_wait_line "$log" '^LZBT DONE' "$qpid" || true
	for ((i = 0; i < 300; i++)); do # the guest powers off after DONE
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || rc=$?
	if ! grep -aq '^LZBT POWERCUT END rc=0' "$log" || ! grep -aq '^LZBT DONE' "$log"; then
		_vm_say "installer guest ($mode) failed (QEMU exit $rc), see $log"
		tr -d '\r' <"$log" | tail -n 20 >&2
		return 1
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

pc_esp_image() { # DISK OUT: the ESP partition alone (fsck.fat takes no offset)
	dd if="$1" of="$2" bs=1M skip=1 count=$((${VM_DISK_MIB:-128} - 2)) status=none
}

pc_entry_of() { # ESP_IMG GENERATION: the name of that generation's (non-specialisation) stub
	MTOOLS_SKIP_CHECK=1 mdir -b -i "$1" ::/EFI/Linux | sed 's|.*/||' |
		grep -E "^nixos-generation-$2-[a-z2-7]{52}(\+[0-9-]+)?\.efi\$"
}

pc_sdboot_version() { # EFI: VERSION from its .osrel
	objcopy -O binary --only-section=.osrel "$1" /dev/stdout 2>/dev/null | sed -n 's/^VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p'
}

# _pc_prepare DIR: the guest initrd, DIR/base.img (generations 1..3 installed by the guest), and for
# each scenario DIR/from-S.img, DIR/to-S.img (an uncut run), DIR/S.duration, DIR/S.previous and
# DIR/S.new (the default entry before and after).
_pc_prepare() {
	local w=$1 s d
	rm -rf "$w"
	mkdir -p "$w"
	_pc_guest_tree "$w"
	# The test initrd, then the guest tree uncompressed: unpacking ~40 MB of gzip under TCG would
	# cost more than the install itself.
	cp "$VM_INITRD" "$w/guest-initrd"
	truncate -s $((($(stat -c %s "$w/guest-initrd") + 3) / 4 * 4)) "$w/guest-initrd"
	(cd "$w/guest" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --reproducible --quiet) >>"$w/guest-initrd"
	mkdir -p "$w/empty"
	vm_make_disk "$w/empty" "$w/empty.img"
	pc_guest_run "$w" base "$w/empty.img" "$w/base.img" >/dev/null
	cp "$w/base.img" "$w/from-new.img"
	for s in "${PC_SCENARIOS[@]}"; do
		[[ $s == new ]] || cp "$w/to-new.img" "$w/from-$s.img"
		d=$(pc_guest_run "$w" "$s" "$w/from-$s.img" "$w/to-$s.img")
		echo "$d" >"$w/$s.duration"
		pc_esp_image "$w/from-$s.img" "$w/esp.img"
		pc_entry_of "$w/esp.img" 3 >"$w/$s.previous"
		[[ $s == new ]] || pc_entry_of "$w/esp.img" 7 >"$w/$s.previous"
		MTOOLS_SKIP_CHECK=1 mcopy -n -i "$w/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$w/$s.sdboot-before.efi"
		pc_esp_image "$w/to-$s.img" "$w/esp.img"
		pc_entry_of "$w/esp.img" 7 >"$w/$s.new"
		MTOOLS_SKIP_CHECK=1 mcopy -n -i "$w/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$w/$s.sdboot-after.efi"
		_vm_say "scenario $s: install takes $d s; default $(<"$w/$s.previous") -> $(<"$w/$s.new")"
	done
	rm -f "$w/esp.img"
}

# pc_prepare: sets PC_PREP to the directory _pc_prepare filled, kept in the cache while its inputs are
# the same. Not in a command substitution: _vm_step needs set -e in effect.
pc_prepare() {
	local kpkg prep=$VM_CACHE/powercut-prep
	kpkg=$(_vm_kernel_pkg)
	_vm_step guest-modules "$VM_CACHE/guest-modules/vfat.ko" "1 $kpkg ${ROTATE_MODULES[*]}" \
		_rotate_build_modules "$kpkg" >&2
	_vm_step sdboot-other "$VM_CACHE/sdboot-other/systemd-bootx64.efi" "1 $PC_OTHER_SUITE" _pc_fetch_sdboot >&2
	# Keyed by this file too (the guest script, the generations); bump PC_PREP_VERSION when anything
	# else that _pc_prepare uses changes.
	_vm_step powercut-prep "$prep/sdboot.new" "$(_vm_key "$PC_PREP_VERSION" "$VM_DIR/powercut.sh" "$LZB_TOOL" \
		"$LZB_STUB" "$VM_SDBOOT" "$VM_CACHE/sdboot-other/systemd-bootx64.efi" "$VM_KERNEL" "$VM_INITRD" "$VM_CACHE"/guest-modules/*.ko \
		"$VM_DIR/../lib/bootspec.sh" "$VM_DIR/initrd-init")" _pc_prepare "$prep" >&2
	PC_PREP=$prep
}

# ---- one cut ----------------------------------------------------------------------

# pc_cut PREP WORK SCENARIO N DELAY: power cut N of SCENARIO, DELAY s after the marker, in WORK;
# judges the image. Prints one line; returns 0 (sound), 1 (a checker failed), 2 (it does not boot),
# 3 (both).
pc_cut() {
	local w=$1 c=$2/cut s=$3 n=$4 delay=$5 img out problems=() bootable=1 name v sel want_prev want_new f rc
	rm -rf "$c" "$2/ended"
	mkdir -p "$c/esp"
	img=$c/disk.img out=$c/esp
	rc=0
	pc_guest_run "$w" "$s" "$w/from-$s.img" "$img" "$delay" "$2/ended" || rc=$?
	cp "$VM_LOGDIR/powercut-guest.log" "$VM_LOGDIR/powercut-$s-$n.guest.log"
	if ((rc)); then # counted as a checker failure: nothing was judged
		echo "cut $s #$n: CHECKER FAILURE: the installer guest failed, see $VM_LOGDIR/powercut-$s-$n.guest.log"
		return 1
	fi
	pc_esp_image "$img" "$c/esp.img"
	# 1. fsck.fat, read-only; judged by powercut-fsck.py (what a power cut may leave, what it must not).
	fsck.fat -n "$c/esp.img" >"$c/fsck.out" 2>&1 || true
	if ! "$PC_PY" "$VM_DIR/powercut-fsck.py" "$c/fsck.out" >"$c/fsck.verdict" 2>&1; then
		problems+=("fsck.fat: $(head -c 300 "$c/fsck.verdict" | tr '\n' ' ')")
	fi
	# 2. The whole ESP copied out with mtools; only temporary files may fail to copy.
	if ! MTOOLS_SKIP_CHECK=1 mcopy -s -n -m -i "$c/esp.img" '::/*' "$out/" 2>"$c/mcopy.err"; then
		if grep -v '\.lzbt-' "$c/mcopy.err" | grep -q .; then problems+=("mcopy: $(head -c 300 "$c/mcopy.err")"); fi
	fi
	# 3. The install invariant, with the previous default entry required; every stub signed by our db
	#    key (so a stub holds the old or the new content, never part of either).
	if ! "$PC_PY" "$VM_DIR/../install/check-esp.py" --db "$VM_PKI/keys/db/db.pem" "$out" "$(<"$w/$s.previous")" >"$c/check.out" 2>&1; then
		problems+=("check-esp: $(head -c 300 "$c/check.out" | tr '\n' ' ')")
	fi
	# 4. Both systemd-boot copies: signed by our db key, intact, the old or the new version.
	for f in EFI/systemd/systemd-bootx64.efi EFI/BOOT/BOOTX64.EFI; do
		if ! sbverify --cert "$VM_PKI/keys/db/db.pem" "$out/$f" >/dev/null 2>&1; then
			problems+=("$f: does not verify")
			continue
		fi
		v=$(pc_sdboot_version "$out/$f")
		if [[ $v != "$(pc_sdboot_version "$w/$s.sdboot-before.efi")" &&
			$v != "$(pc_sdboot_version "$w/$s.sdboot-after.efi")" ]]; then
			problems+=("$f: version '$v' is neither the old nor the new one")
		fi
	done
	# 5. loader.conf: the old or the new one.
	for f in from to; do
		MTOOLS_SKIP_CHECK=1 mcopy -n -i "$w/$f-$s.img@@1M" ::/loader/loader.conf "$c/loader.conf.$f"
	done
	if ! cmp -s "$out/loader/loader.conf" "$c/loader.conf.from" && ! cmp -s "$out/loader/loader.conf" "$c/loader.conf.to"; then
		problems+=("loader/loader.conf: neither the old nor the new one")
	fi
	# 6. Secure Boot + TPM boot of the cut image: the previous or the new default entry.
	name=powercut-$s-$n
	vm_boot "$name" "$img" --sb --tpm --timeout 180 || true
	want_prev=$(utf16_hex "$(<"$w/$s.previous")") want_new=$(utf16_hex "$(<"$w/$s.new")")
	sel=$(vm_log_value "$name" 'VAR LoaderEntrySelected' 2>/dev/null || true)
	# The entry booted what its name says: the command line of that generation.
	v=$(vm_utf16_hex_to_text "$sel" | sed -n 's/^nixos-generation-\([0-9]*\)-.*/\1/p')
	if ! vm_log_has "$name" '^LZBT DONE' || [[ -z $v ]] || ! vm_log_has "$name" "^LZBT CMDLINE .*lzbt\\.test=gen$v( |\$)" ||
		[[ $sel != "$want_prev" && $sel != "$want_new" ]]; then
		bootable=0
	fi
	local verdict="cut $s #$n at ${delay}s:"
	((${#problems[@]} == 0)) && verdict+=" checkers ok" || verdict+=" CHECKER FAILURE: ${problems[*]}"
	if ((bootable)); then
		verdict+="; boots $(vm_utf16_hex_to_text "$sel")"
	else
		verdict+="; UNBOOTABLE (entry '$(vm_utf16_hex_to_text "$sel")', log $(vm_log "$name"))"
	fi
	[[ -s $2/ended ]] && verdict+=" (after the end: the install took $(<"$2/ended") s)"
	echo "$verdict"
	# With PC_RERUN=1, a cut that left a temporary file is followed by the install run to the end.
	rc=$(((${#problems[@]} > 0 ? 1 : 0) + (bootable ? 0 : 2)))
	f=$(MTOOLS_SKIP_CHECK=1 mdir -a -/ -b -i "$c/esp.img" ::/ 2>/dev/null | sed -n 's|^::/||; /\/\.lzbt-[^/]*$/{p;q}')
	if [[ ${PC_RERUN:-0} == 1 && -n $f ]]; then
		echo -n "  then: "
		pc_rerun "$w" "$c" "$s" "$img" "$f" || rc=$((rc | 1))
	fi
	return "$rc"
}

# ---- the install after a cut --------------------------------------------------------

_pc_file_state() { # ESP_IMG PATH: "absent", "unreadable" (a torn temporary) or the SHA-256 of its content
	local f
	MTOOLS_SKIP_CHECK=1 mdir -a -b -i "$1" "::/$2" >/dev/null 2>&1 || { echo absent && return; }
	f=$(mktemp)
	if MTOOLS_SKIP_CHECK=1 mtype -i "$1" "::/$2" >"$f" 2>/dev/null; then sha256sum <"$f" | cut -d' ' -f1; else echo unreadable; fi
	rm -f "$f"
}

# pc_rerun PREP CUTDIR SCENARIO CUT_IMG TMP: runs the same install again, to the end, on CUT_IMG, whose
# ESP holds the temporary file TMP (a path in the ESP) left by the cut, and judges it. On FAT a
# temporary may share clusters with a live file after a torn FAT, so lanzatool must not delete it:
# the install must warn naming it and saying to check with fsck.fat, leave it as it was, and still
# end in a sound ESP with the new default (fsck.fat -n, check-esp.py on the mtools copy, loader.conf
# the same as after an uncut install). Prints one line; returns 0 (sound) or 1.
pc_rerun() {
	local w=$1 c=$2 s=$3 cut=$4 tmp=$5 rc=0 problems=() log before
	rm -rf "$c/rerun" && mkdir -p "$c/rerun/esp"
	pc_esp_image "$cut" "$c/rerun/esp.img"
	before=$(_pc_file_state "$c/rerun/esp.img" "$tmp")
	PC_APPEND=lzbt.pcv=1 pc_guest_run "$w" "$s" "$cut" "$c/rerun/disk.img" >/dev/null || rc=$?
	log=$VM_LOGDIR/powercut-$s-rerun.guest.log
	tr -d '\r' <"$VM_LOGDIR/powercut-guest.log" >"$log"
	((rc == 0)) || problems+=("the install failed, see $log")
	grep -qxF "lanzatool: warning: /mnt/esp/$tmp: left by an interrupted install, not removed" "$log" ||
		problems+=("no warning naming /mnt/esp/$tmp")
	grep -q "^lanzatool: warning: /mnt/esp: .*Check the unmounted ESP with 'fsck\.fat -n DEVICE'" "$log" ||
		problems+=("no warning saying how to check the file system")
	pc_esp_image "$c/rerun/disk.img" "$c/rerun/esp.img"
	[[ $(_pc_file_state "$c/rerun/esp.img" "$tmp") == "$before" ]] || problems+=("$tmp: removed or changed")
	fsck.fat -n "$c/rerun/esp.img" >"$c/rerun/fsck.out" 2>&1 || true
	if ! "$PC_PY" "$VM_DIR/powercut-fsck.py" "$c/rerun/fsck.out" >"$c/rerun/fsck.verdict" 2>&1; then
		problems+=("fsck.fat: $(head -c 300 "$c/rerun/fsck.verdict" | tr '\n' ' ')")
	fi
	if ! MTOOLS_SKIP_CHECK=1 mcopy -s -n -m -i "$c/rerun/esp.img" '::/*' "$c/rerun/esp/" 2>"$c/rerun/mcopy.err"; then
		problems+=("mcopy: $(head -c 300 "$c/rerun/mcopy.err")")
	elif ! "$PC_PY" "$VM_DIR/../install/check-esp.py" --db "$VM_PKI/keys/db/db.pem" "$c/rerun/esp" \
		"$(<"$w/$s.new")" >"$c/rerun/check.out" 2>&1; then
		problems+=("check-esp: $(head -c 300 "$c/rerun/check.out" | tr '\n' ' ')")
	else
		MTOOLS_SKIP_CHECK=1 mcopy -n -i "$w/to-$s.img@@1M" ::/loader/loader.conf "$c/rerun/loader.conf.to"
		cmp -s "$c/rerun/esp/loader/loader.conf" "$c/rerun/loader.conf.to" ||
			problems+=("loader/loader.conf differs from an uncut install's")
	fi
	if ((${#problems[@]})); then
		echo "install after a cut that left $tmp ($s): CHECKER FAILURE: ${problems[*]}"
		return 1
	fi
	echo "install after a cut that left $tmp ($s): warned, left it in place, sound"
}

# pc_leftover PREP WORK SCENARIO: a power cut that surely leaves a temporary file, then pc_rerun. The
# guest picks the instant (lzbt.freeze=1): once a temporary with data exists, lanzatool is stopped
# and everything is written back, as the periodic writeback may do at any instant; then QEMU is killed.
pc_leftover() {
	local w=$1 c=$2/leftover s=$3 tmp rc=0
	rm -rf "$c" && mkdir -p "$c"
	PC_APPEND=lzbt.freeze=1 pc_guest_run "$w" "$s" "$w/from-$s.img" "$c/disk.img" frozen || rc=$?
	cp "$VM_LOGDIR/powercut-guest.log" "$VM_LOGDIR/powercut-$s-leftover.guest.log"
	tmp=$(tr -d '\r' <"$VM_LOGDIR/powercut-$s-leftover.guest.log" | sed -n 's/^LZBT POWERCUT FROZEN //p' | head -n 1)
	if ((rc)) || [[ -z $tmp || $tmp == none ]]; then
		echo "install after a cut ($s): CHECKER FAILURE: no temporary file to cut at, see $VM_LOGDIR/powercut-$s-leftover.guest.log"
		return 1
	fi
	pc_esp_image "$c/disk.img" "$c/esp.img"
	if ! MTOOLS_SKIP_CHECK=1 mdir -a -b -i "$c/esp.img" "::/$tmp" >/dev/null 2>&1; then
		echo "install after a cut ($s): CHECKER FAILURE: $tmp is not on the cut image"
		return 1
	fi
	pc_rerun "$w" "$c" "$s" "$c/disk.img" "$tmp"
}

# pc_run PREP WORK CUTS SEED: CUTS cuts over the scenarios in turn, at seeded instants spread uniformly
# over each scenario's measured install; prints the verdicts and the summary line.
pc_run() {
	local w=$1 work=$2 cuts=$3 seed=$4 i s delay unbootable=0 failures=0 rc
	local -A span
	for s in "${PC_SCENARIOS[@]}"; do span[$s]=$(<"$w/$s.duration"); done
	RANDOM=$seed
	for ((i = 0; i < cuts; i++)); do
		s=${PC_SCENARIOS[i % ${#PC_SCENARIOS[@]}]}
		delay=$(awk -v d="${span[$s]}" -v r="$RANDOM" 'BEGIN { printf "%.3f\n", d * r / 32768 }')
		rc=0
		pc_cut "$w" "$work" "$s" "$((i / ${#PC_SCENARIOS[@]} + 1))" "$delay" || rc=$?
		((rc & 1)) && failures=$((failures + 1))
		((rc & 2)) && unbootable=$((unbootable + 1))
		# The machine's load changes the install's duration: an install seen ending early shortens
		# the span the later cuts of that scenario are drawn from.
		if [[ -s $work/ended ]]; then span[$s]=$(<"$work/ended"); fi
	done
	# The FAT branch of lanzatool's leftover handling: one install after a cut that left a temporary.
	pc_leftover "$w" "$work" new || failures=$((failures + 1))
	echo "power cuts: $cuts; unbootable: $unbootable; checker failures: $failures"
	((unbootable == 0 && failures == 0))
}

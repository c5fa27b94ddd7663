# shellcheck shell=bash
# VM test library: OVMF (Secure Boot capable) + swtpm under QEMU/TCG.
# Source it from a test running with `set -euo pipefail`; call vm_prepare
# first (not inside `if`/`||`, which would disable set -e in its steps).

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${LANZABOOTE_TEST_CACHE:-$HOME/.cache/lanzaboote-test}
VM_LOGDIR=${VM_LOGDIR:-$VM_CACHE/logs}
VM_PKI=$VM_CACHE/pki
VM_VARS_ENROLLED=$VM_CACHE/vars-enrolled.fd
VM_OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
VM_OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
VM_SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
VM_SDSTUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
VM_ESP_PARTUUID=4c5a4254-e5b0-4e5b-a7e5-000000000001
VM_TERMINAL_RE='LZBT DONE|Error loading|Failed to execute|Access Denied|Security Violation|BdsDxe: No bootable option|UEFI Interactive Shell|Kernel panic'
LANZABOOTE_BUILD_DIR=${LANZABOOTE_BUILD_DIR:-$(git -C "$VM_DIR" rev-parse --show-toplevel 2>/dev/null || echo "$VM_DIR/../..")/build}
export VM_CACHE VM_LOGDIR VM_PKI VM_ESP_PARTUUID LANZABOOTE_BUILD_DIR
# lanzatool on the host keeps no hash cache (/var/lib/lanzaboote): every install in a VM test starts cold.
export LANZATOOL_STATE_DIR=

_vm_say() { echo "[vm] $*" >&2; }

_vm_quiet() { # CMD...: run CMD, show its output only if it fails
	local out
	out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

_vm_elapsed() { # T0 (an $EPOCHREALTIME): seconds since then, one decimal
	local us=$((${EPOCHREALTIME//[.,]/} - ${1//[.,]/}))
	printf '%d.%d\n' $((us / 1000000)) $((us / 100000 % 10))
}

# ---- cache preparation -------------------------------------------------------

_vm_key() { # RECIPE_VERSION INPUT_FILE...: stamp key of a step, from contents only (not paths)
	local f
	{
		echo "$1"
		shift
		for f; do sha256sum <"$f"; done
	} | sha256sum | cut -d' ' -f1
}

_vm_step() { # NAME OUTPUT KEY CMD...: run CMD unless OUTPUT exists and was made with KEY
	local stamp=$VM_CACHE/stamps/$1 output=$2 key=$3
	shift 3
	if [[ -e $output && -f $stamp && $(<"$stamp") == "$key" ]]; then return 0; fi
	_vm_say "preparing $(basename "$stamp")"
	rm -f "$stamp"
	# The stamp below is written only because set -e ends the shell at a step's first failing command;
	# bash ignores set -e inside if/||/&&/!, where a failed step would be recorded as done: refuse.
	# shellcheck disable=SC2155 # `local` on purpose: the probe's own status must not be seen
	local probe=$(set -e; false; echo ignored)
	if [[ $- != *e* || $probe == ignored ]]; then
		_vm_say "preparing $(basename "$stamp"): set -e is not in effect (vm_prepare inside if/||/&&?)"
		return 1
	fi
	"$@"
	printf '%s\n' "$key" >"$stamp"
}

_vm_build_kernel() { # KPKG: vmlinuz + efivarfs.ko from the distribution package
	local tmp=$VM_CACHE/kernel.tmp vmlinuz
	rm -rf "$tmp" "$VM_CACHE/kernel"
	mkdir -p "$tmp"
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$1")
	dpkg-deb --fsys-tarfile "$tmp/$1"_*.deb | tar -x -C "$tmp" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*/kernel/fs/efivarfs/efivarfs.ko'
	vmlinuz=$(echo "$tmp"/boot/vmlinuz-*)
	echo "${vmlinuz##*/vmlinuz-}" >"$tmp/kver"
	mv "$vmlinuz" "$tmp/vmlinuz"
	mv "$tmp"/lib/modules/*/kernel/fs/efivarfs/efivarfs.ko "$tmp/"
	rm -rf "${tmp:?}/boot" "${tmp:?}/lib" "$tmp/$1"_*.deb
	mv "$tmp" "$VM_CACHE/kernel"
}

_vm_initrd_once() { # OUT [BUSYBOX EFIVARFS_KO]: initrd from a fresh tree; fixed modes, owners and mtimes
	local root
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp}
	install -m 0755 "${2:-/bin/busybox}" "$root/bin/busybox"
	install -m 0755 "$VM_DIR/initrd-init" "$root/init"
	install -m 0644 "${3:-$VM_CACHE/kernel/efivarfs.ko}" "$root/efivarfs.ko"
	find "$root" -type d -exec chmod 0755 {} +
	find "$root" -exec touch -h -d @0 {} +
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$1"
	rm -rf "$root"
}

_vm_build_initrd() {
	_vm_initrd_once "$VM_CACHE/initrd.a"
	_vm_initrd_once "$VM_CACHE/initrd.b"
	if ! cmp "$VM_CACHE/initrd.a" "$VM_CACHE/initrd.b"; then
		_vm_say "initrd build is not reproducible"
		return 1
	fi
	mv "$VM_CACHE/initrd.a" "$VM_CACHE/initrd.cpio.gz"
	rm "$VM_CACHE/initrd.b"
}

_vm_build_pki() { # sbctl layout: keys/{PK,KEK,db}/X.{key,pem}, GUID; plus X.esl and X.auth
	local tmp=$VM_PKI.tmp guid k
	local -A signer=([PK]=PK [KEK]=PK [db]=KEK)
	local -A cn=([PK]='Platform Key' [KEK]='Key Exchange Key' [db]='Database Key')
	rm -rf "$tmp" "$VM_PKI"
	guid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$tmp"
	printf '%s' "$guid" >"$tmp/GUID"
	for k in PK KEK db; do
		mkdir -p "$tmp/keys/$k"
		openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Lanzaboote test ${cn[$k]}/" \
			-keyout "$tmp/keys/$k/$k.key" -out "$tmp/keys/$k/$k.pem" 2>/dev/null
		cert-to-efi-sig-list -g "$guid" "$tmp/keys/$k/$k.pem" "$tmp/$k.esl"
	done
	for k in PK KEK db; do
		sign-efi-sig-list -g "$guid" -k "$tmp/keys/${signer[$k]}/${signer[$k]}.key" \
			-c "$tmp/keys/${signer[$k]}/${signer[$k]}.pem" "$k" "$tmp/$k.esl" "$tmp/$k.auth" >/dev/null
	done
	mv "$tmp" "$VM_PKI"
}

# W VARS_TEMPLATE OUT TIMEOUT_S: W/esp holds a signed systemd-boot set to enroll; boot it once in setup
# mode with our keys in loader/keys/auto, keep the enrolled variable store as OUT.
_vm_enroll() {
	local w=$1
	mkdir -p "$w/esp/loader/keys/auto"
	cp "$VM_PKI"/{PK,KEK,db}.auth "$w/esp/loader/keys/auto/"
	vm_make_disk "$w/esp" "$w/disk.img"
	cp "$2" "$w/vars.fd"
	VM_LOGDIR=$w _vm_qemu enroll "$w/disk.img" "$w/vars.fd" 0 "$4"
	# Success ends in a cold reset, which -no-reboot turns into QEMU exiting by itself.
	if ! grep -aq 'Enrolling secure boot keys' "$w/enroll.log" ||
		grep -aqE "$VM_TERMINAL_RE|terminating on signal" "$w/enroll.log"; then
		_vm_say "key enrollment failed, see $w/enroll.log"
		return 1
	fi
	mv "$w/vars.fd" "$3"
	rm -rf "$w/esp" "$w/disk.img"
}

_vm_build_vars() { # boot systemd-boot once in setup mode; it enrolls our keys and resets
	local w=$VM_CACHE/enroll
	rm -rf "$w"
	mkdir -p "$w/esp"
	vm_esp_systemd_boot "$w/esp" 'timeout 0' 'secure-boot-enroll force'
	_vm_enroll "$w" "$VM_OVMF_VARS" "$VM_VARS_ENROLLED" 120
}

_vm_kernel_pkg() { # the package linux-image-amd64 depends on, memoized until the apt lists change
	local memo=$VM_CACHE/stamps/kernel-package
	# apt-cache takes ~1 s here (the image keeps no pkgcache.bin).
	if [[ ! -s $memo || /var/lib/apt/lists -nt $memo ]]; then
		apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}' >"$memo.tmp"
		mv "$memo.tmp" "$memo"
	fi
	cat "$memo"
}

vm_prepare() { # kernel, initrd, test PKI and enrolled OVMF vars in $VM_CACHE
	local kpkg lock
	mkdir -p "$VM_CACHE/stamps" "$VM_LOGDIR"
	exec {lock}>"$VM_CACHE/lock"
	flock -w 900 "$lock"
	kpkg=$(_vm_kernel_pkg)
	[[ -n $kpkg ]] || { _vm_say "cannot resolve linux-image-amd64"; return 1; }
	_vm_step kernel "$VM_CACHE/kernel/vmlinuz" "1 $kpkg" _vm_build_kernel "$kpkg"
	VM_KERNEL=$VM_CACHE/kernel/vmlinuz
	VM_KVER=$(<"$VM_CACHE/kernel/kver")
	_vm_step initrd "$VM_CACHE/initrd.cpio.gz" \
		"$(_vm_key 1 "$VM_DIR/initrd-init" /bin/busybox "$VM_CACHE/kernel/efivarfs.ko")" _vm_build_initrd
	VM_INITRD=$VM_CACHE/initrd.cpio.gz
	_vm_step pki "$VM_PKI/db.auth" 1 _vm_build_pki
	_vm_step vars "$VM_VARS_ENROLLED" \
		"$(_vm_key 1 "$VM_PKI"/{PK,KEK,db}.auth "$VM_SDBOOT" "$VM_OVMF_CODE" "$VM_OVMF_VARS")" _vm_build_vars
	export VM_KERNEL VM_KVER VM_INITRD
	exec {lock}>&-
}

# ---- fixtures ------------------------------------------------------------------

vm_workdir() { # NAME: print a fresh scratch directory for a test's fixtures
	local d=$VM_CACHE/work/$1
	rm -rf "$d"
	mkdir -p "$d"
	echo "$d"
}

vm_sign() { # IN OUT: sign with the test db key (test fixtures only)
	# sbsign warns about gaps between PE/COFF sections on systemd 252 binaries; harmless.
	_vm_quiet sbsign --key "$VM_PKI/keys/db/db.key" --cert "$VM_PKI/keys/db/db.pem" --output "$2" "$1"
}

vm_esp_systemd_boot() { # DIR LOADER_CONF_LINE...: signed Debian systemd-boot as the removable-media loader
	mkdir -p "$1/EFI/BOOT" "$1/EFI/Linux" "$1/loader"
	vm_sign "$VM_SDBOOT" "$1/EFI/BOOT/BOOTX64.EFI"
	printf '%s\n' "${@:2}" >"$1/loader/loader.conf"
}

vm_mkuki() { # STUB OUT .SECTION=FILE...: add sections at packed 4 KiB-aligned VMAs above the stub's
	local stub=$1 out=$2 vma=0 idx size addr spec name file args=()
	shift 2
	while read -r idx _ size addr _; do
		[[ $idx =~ ^[0-9]+$ ]] && ((16#$addr + 16#$size > vma)) && vma=$((16#$addr + 16#$size))
	done < <(objdump -h -w "$stub")
	for spec; do
		name=${spec%%=*} file=${spec#*=}
		size=$(stat -Lc %s "$file")
		vma=$(((vma + 4095) / 4096 * 4096))
		args+=(--add-section "$name=$file" --change-section-vma "$(printf '%s=0x%x' "$name" "$vma")")
		vma=$((vma + size))
	done
	objcopy "${args[@]}" "$stub" "$out"
}

vm_debian_uki() { # DIR CMDLINE: DIR/uki.efi from Debian's stub, kernel, test initrd; keeps DIR/{osrel,cmdline}
	cp /etc/os-release "$1/osrel"
	printf '%s' "$2" >"$1/cmdline"
	vm_mkuki "$VM_SDSTUB" "$1/uki.efi" .osrel="$1/osrel" .cmdline="$1/cmdline" \
		.linux="$VM_KERNEL" .initrd="$VM_INITRD"
}

vm_add_program() { # DIR PROGRAM DEST: PROGRAM at DIR/DEST, with the shared libraries ldd lists at their paths
	local lib
	install -D -m 0755 "$2" "$1/$3"
	for lib in $(ldd "$2" | grep -oE '/[^ ]+\.so[^ ]*'); do
		install -D -m 0755 "$lib" "$1$lib" # dereferenced: the soname link's target, under the soname
	done
}

vm_initrd_extend() { # OUT DIR: the test initrd, then DIR as a second archive (for the lzbt.script=1 hook)
	cp "$VM_INITRD" "$1"
	truncate -s $((($(stat -c %s "$1") + 3) / 4 * 4)) "$1" # each archive starts 4-byte aligned
	(cd "$2" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >>"$1"
}

vm_predict_pcr11() { # systemd-measure section options (--linux= ...): print the expected sha256 PCR 11
	local out
	out=$(/usr/lib/systemd/systemd-measure calculate "$@" --bank=sha256 --phase= 2>&1)
	[[ $out =~ 11:sha256=([0-9a-f]+) ]] || { echo "$out" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

vm_make_disk() { # SRC_DIR OUT_IMG [SIZE_MIB]: GPT disk whose only partition is a FAT32 ESP filled from SRC_DIR
	local src=$1 img=$2 mib=${3:-${VM_DISK_MIB:-128}}
	local sectors=$(((mib - 2) * 2048)) # 1 MiB before the ESP, 1 MiB free for the backup GPT
	rm -f "$img"
	truncate -s "${mib}M" "$img"
	printf 'label: gpt\nlabel-id: 4c5a4254-d15c-4000-8000-000000000001\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=%s\n' \
		"$sectors" "$VM_ESP_PARTUUID" | sfdisk -q "$img"
	_vm_quiet mkfs.vfat -F 32 -n ESP -i 4c5a4254 --offset=2048 "$img" $((sectors / 2))
	shopt -s nullglob dotglob
	local files=("$src"/*)
	shopt -u nullglob dotglob
	if ((${#files[@]})); then
		MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$img@@1M" "${files[@]}" ::/
	fi
}

# ---- booting -------------------------------------------------------------------

_vm_swtpm_start() { # DIR [--terminate]: daemonized swtpm with its state and control socket in DIR
	local i
	swtpm socket --tpm2 --tpmstate dir="$1" --ctrl type=unixio,path="$1/sock" --flags startup-clear \
		--log file="$1/log",level=1 --pid file="$1/pid" --daemon ${2:+"$2"}
	for ((i = 0; i < 50; i++)); do
		[[ -S $1/sock && -s $1/pid ]] && return 0
		sleep 0.1
	done
	_vm_say "swtpm did not start"
	return 1
}

_vm_alive() { # PID: running? (a daemon's zombie may linger: our container's init reaps lazily)
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

_vm_stop() { # QEMU_PID TPM_DIR (either may be empty): stop both, bounded
	local i pid
	if [[ -n $1 ]]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true # bounded: `timeout -k 5` escalates to SIGKILL
	fi
	[[ -n $2 ]] || return 0
	if [[ -s $2/pid ]]; then
		pid=$(<"$2/pid")
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 25; i++)); do
			_vm_alive "$pid" || break
			sleep 0.2
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$2"
}

# A subshell, so that its EXIT trap stops QEMU and swtpm whatever happens.
_vm_qemu() ( # NAME DISK VARS TPM(0|1) TIMEOUT_S: boot, kill QEMU at the first terminal line
	local name=$1 tpm=$4 limit=$5 log=$VM_LOGDIR/$1.log qpid='' tpmdir='' rc=0 i t0 end='' args
	local qemu=qemu-system-x86_64 tis=tpm-tis terminate=--terminate
	trap '_vm_stop "$qpid" "$tpmdir"' EXIT
	trap 'exit 143' INT TERM HUP
	args=(-machine 'q35,smm=on,accel=tcg' -global 'driver=cfi.pflash01,property=secure,value=on'
		-m 1024 -nographic -no-reboot -nic none
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$VM_OVMF_CODE"
		-drive "if=pflash,format=raw,unit=1,file=$3"
		-drive "file=$2,format=raw,if=virtio")
	# VM_ARCH=aa64 (test/vm/aarch64.sh): QEMU virt with AAVMF; its pflash is not SMM-protected. The guest
	# kernel cannot read this TPM, so with one the VM pauses at power-off and aa64_tpm_report reads the
	# PCRs from swtpm (which must then outlive QEMU: no --terminate).
	if [[ ${VM_ARCH:-x64} == aa64 ]]; then
		qemu=qemu-system-aarch64 tis=tpm-tis-device terminate=''
		args=(-machine "virt,accel=tcg${VM_AA64_MACHINE_EXTRA:-}" -cpu "${VM_AA64_CPU:-cortex-a72}" -m 1024 -nographic -no-reboot -nic none
			-drive "if=pflash,format=raw,unit=0,readonly=on,file=$AA64_CODE"
			-drive "if=pflash,format=raw,unit=1,file=$3"
			-drive "file=$2,format=raw,if=virtio" -pidfile "$VM_LOGDIR/$name.qemu.pid")
		((tpm == 0)) || args+=(-action shutdown=pause)
	fi
	# A second disk (vdb), for the tests of several ESPs.
	[[ -z ${VM_EXTRA_DISK:-} ]] || args+=(-drive "file=$VM_EXTRA_DISK,format=raw,if=virtio")
	if ((tpm)); then
		tpmdir=$(mktemp -d "${TMPDIR:-/tmp}/lzbt-tpm.XXXXXX")
		_vm_swtpm_start "$tpmdir" $terminate
		args+=(-chardev "socket,id=chrtpm,path=$tpmdir/sock" -tpmdev 'emulator,id=tpm0,chardev=chrtpm'
			-device "$tis,tpmdev=tpm0")
	fi
	# Devices a test adds, e.g. a second disk the firmware falls back to: VM_QEMU_EXTRA=(-drive ...).
	args+=("${VM_QEMU_EXTRA[@]}")
	mkdir -p "$VM_LOGDIR"
	printf '%q ' timeout -k 5 "$limit" "$qemu" "${args[@]}" >"$VM_LOGDIR/$name.cmd"
	echo >>"$VM_LOGDIR/$name.cmd"
	t0=$EPOCHREALTIME
	timeout -k 5 "$limit" "$qemu" "${args[@]}" </dev/null >"$log" 2>&1 &
	qpid=$!
	for ((i = 0; i < (limit + 10) * 5; i++)); do
		kill -0 "$qpid" 2>/dev/null || break
		if end=$(grep -aoE -m1 "$VM_TERMINAL_RE" "$log"); then
			[[ -z $tpmdir || -n $terminate ]] || aa64_tpm_report "$tpmdir" "$VM_LOGDIR/$name.qemu.pid" >>"$log"
			kill "$qpid" 2>/dev/null || true # it may have powered off by itself meanwhile
			break
		fi
		sleep 0.2
	done
	wait "$qpid" || rc=$?
	qpid=''
	if [[ -n $end ]] || end=$(grep -aoE -m1 "$VM_TERMINAL_RE" "$log"); then
		end=${end%%$'\n'*}
		_vm_say "$name: $(_vm_elapsed "$t0") s, ended by: $end"
		exit 0 # a terminal line: QEMU's status is that of our kill (143) or of the timeout racing it
	fi
	case $rc in
	0) _vm_say "$name: $(_vm_elapsed "$t0") s, ended by: QEMU exiting by itself (reset or power-off)" ;;
	124 | 137) _vm_say "$name: timed out after $limit s without a terminal line (log: $log)" ;;
	*) _vm_say "$name: QEMU exit status $rc without a terminal line (log: $log)" ;;
	esac
	# 0 only for a clean exit; a timeout or a killed QEMU is never a boot that happened.
	exit "$rc"
)

# NAME DISK_IMG [--sb|--no-sb|--vars FILE] [--tpm|--no-tpm] [--timeout S] (defaults: --sb --no-tpm
# --timeout 300). --vars boots with FILE itself as the variable store, kept across boots (enrollment).
# Serial log in $VM_LOGDIR/NAME.log, command line in NAME.cmd. Returns 0 if the boot reached a terminal
# line or QEMU exited by itself; non-zero on a timeout or a QEMU failure. Judge the boot by the log.
vm_boot() {
	local name=$1 disk=$2 sb=1 tpm=0 limit=300 vars=''
	shift 2
	while (($#)); do
		case $1 in
		--sb) sb=1 ;;
		--no-sb) sb=0 ;;
		--vars) vars=$2 && shift ;;
		--tpm) tpm=1 ;;
		--no-tpm) tpm=0 ;;
		--timeout) limit=$2 && shift ;;
		*) _vm_say "vm_boot: unknown option $1" && return 2 ;;
		esac
		shift
	done
	mkdir -p "$VM_LOGDIR"
	if [[ -z $vars ]]; then
		vars=$VM_LOGDIR/$name.vars.fd
		# --sb: our enrolled keys (user mode); --no-sb: empty store (setup mode), same firmware.
		if ((sb)); then cp "$VM_VARS_ENROLLED" "$vars"; else cp "$VM_OVMF_VARS" "$vars"; fi
	fi
	_vm_qemu "$name" "$disk" "$vars" "$tpm" "$limit"
}

# ---- reading the serial log ----------------------------------------------------

vm_log() { echo "$VM_LOGDIR/$1.log"; }

vm_log_has() { # NAME ERE: does the serial log contain a match?
	grep -aqE -- "$2" < <(tr -d '\r' <"$(vm_log "$1")")
}

vm_log_value() { # NAME KEY: value of the line "LZBT KEY=VALUE" or "LZBT KEY VALUE"; fails if absent
	awk -v p="LZBT $2" '
		{ sub(/\r$/, "") }
		index($0, p) == 1 && substr($0, length(p) + 1, 1) ~ /[= ]/ {
			v = substr($0, length(p) + 2); found = (v != "absent"); if (found) print v; exit
		}
		END { exit !found }' "$(vm_log "$1")"
}

vm_utf16_hex() { # TEXT: hex of TEXT as UTF-16LE with its NUL, as in "LZBT VAR" lines
	{ printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE; printf '\0\0'; } | od -An -v -tx1 | tr -d ' \n'
}

vm_log_line() { # NAME ERE: number of the first serial log line matching ERE (empty if none)
	# awk reads the file itself: no pipe that an early exit would break (SIGPIPE under pipefail).
	VM_RE=$2 awk '{ sub(/\r$/, "") } $0 ~ ENVIRON["VM_RE"] { print NR; exit }' "$(vm_log "$1")"
}

vm_utf16_hex_to_text() { # HEX: UTF-16LE hex (as in "LZBT VAR" lines) to text, up to the first NUL
	local hex=$1 out='' i cp esc ch
	for ((i = 0; i + 4 <= ${#hex}; i += 4)); do
		cp=$((16#${hex:i+2:2}${hex:i:2}))
		((cp != 0)) || break
		printf -v esc '\\u%04x' "$cp"
		printf -v ch '%b' "$esc"
		out+=$ch
	done
	echo "$out"
}

# ---- verdicts ------------------------------------------------------------------

vm_fail() { # NAME MESSAGE: explain the failure with the end of the serial log, exit 1
	local log
	log=$(vm_log "$1")
	echo "FAIL: $2" >&2
	if [[ -f $log ]]; then
		echo "--- last 30 lines of $log ---" >&2
		tail -n 30 "$log" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' >&2
	fi
	exit 1
}

vm_skip() { # REASON: exit 77 (run.sh prints the reason)
	echo "SKIP: $1"
	exit 77
}

vm_assert_has() { # NAME ERE
	vm_log_has "$1" "$2" || vm_fail "$1" "serial log lacks /$2/"
}

vm_assert_lacks() { # NAME ERE
	! vm_log_has "$1" "$2" || vm_fail "$1" "serial log unexpectedly has /$2/"
}

vm_assert_value() { # NAME KEY EXPECTED
	local v
	v=$(vm_log_value "$1" "$2") || vm_fail "$1" "no 'LZBT $2' value in the serial log"
	[[ $v == "$3" ]] || vm_fail "$1" "$2 is '$v', expected '$3'"
}

# ---- tampering -----------------------------------------------------------------

vm_flip_byte() { # FILE OFFSET: add one to the byte at OFFSET
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf '%b' "\\0$(printf %03o $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

vm_boot_tampered() { # NAME WORKDIR MUTATION: boot (--sb --tpm) a copy of WORKDIR/esp with MUTATION run in its EFI/nixos
	rm -rf "$2/esp-$1" && cp -a "$2/esp" "$2/esp-$1"
	(cd "$2/esp-$1/EFI/nixos" && eval "$3")
	vm_make_disk "$2/esp-$1" "$2/disk.img"
	vm_boot "$1" "$2/disk.img" --sb --tpm
}

# ---- a refused entry, then systemd-boot again on the same disk -------------------------------------------

# NAME DISK_IMG REFUSED_ID DEFAULT_ID: one power-on (--sb --tpm) of DISK_IMG (from vm_make_disk, with signed
# systemd-boot at \EFI\systemd\systemd-bootx64.efi and \EFI\BOOT\BOOTX64.EFI) in which the entry REFUSED_ID
# fails and systemd-boot then boots DEFAULT_ID, the way a machine falls back: the enrolled store gets two boot
# options, Boot0100 (\EFI\systemd\systemd-bootx64.efi) and Boot0101 (\EFI\BOOT\BOOTX64.EFI), first in
# BootOrder, and LoaderEntryOneShot=REFUSED_ID (test/vm/ovmf-vars.py). systemd-boot takes the one-shot entry,
# deletes the variable and, when starting the entry fails, returns the error to the firmware (boot.c: "err =
# image_start(...); if (err != EFI_SUCCESS) return err;", v252 to v262), which starts the next option: the same
# disk's systemd-boot, which boots its default. Checked here, from the serial log and the guest: both options
# started in that order, the second after systemd-boot's "Failed to execute", and LoaderEntrySelected is
# DEFAULT_ID. The caller checks the refusal message, PCRs and event log.
vm_boot_refused_then_default() {
	local n=$1 disk=$2 vars=$VM_LOGDIR/$1.vars.fd mib l_first l_failed l_second
	mib=$(($(stat -c %s "$disk") / 1048576))
	mkdir -p "$VM_LOGDIR"
	cp "$VM_VARS_ENROLLED" "$vars"
	python3 "$VM_DIR/ovmf-vars.py" "$vars" --partuuid="$VM_ESP_PARTUUID" --part-start=2048 \
		--part-size=$(((mib - 2) * 2048)) --oneshot="$3" \
		'\EFI\systemd\systemd-bootx64.efi' '\EFI\BOOT\BOOTX64.EFI'
	# systemd-boot's "Failed to execute" is not the end: the firmware goes on with Boot0101.
	VM_TERMINAL_RE='LZBT DONE|BdsDxe: No bootable option|UEFI Interactive Shell|Kernel panic' \
		vm_boot "$n" "$disk" --vars "$vars" --tpm --timeout 900
	l_first=$(vm_log_line "$n" 'BdsDxe: starting Boot0100 .*\\EFI\\systemd\\systemd-bootx64\.efi')
	l_failed=$(vm_log_line "$n" 'Failed to execute')
	l_second=$(vm_log_line "$n" 'BdsDxe: starting Boot0101 .*\\EFI\\BOOT\\BOOTX64\.EFI')
	[[ -n $l_first ]] || vm_fail "$n" "the firmware did not start Boot0100 (\\EFI\\systemd\\systemd-bootx64.efi)"
	[[ -n $l_failed && $l_failed -gt $l_first ]] || vm_fail "$n" "systemd-boot reported no failed entry"
	[[ -n $l_second && $l_second -gt $l_failed ]] ||
		vm_fail "$n" "the firmware did not go on with Boot0101 (\\EFI\\BOOT\\BOOTX64.EFI) after the failure"
	vm_assert_has "$n" '^LZBT MARKER'
	vm_assert_value "$n" 'VAR LoaderEntrySelected' "$(vm_utf16_hex "$4")"
}

# ---- an ESP with an Extended Boot Loader partition (XBOOTLDR) ---------------------

VM_XBOOTLDR_PARTUUID=4c5a4254-e5b0-4e5b-a7e5-000000000002
vm_make_disk_xbootldr() { # ESP_DIR BOOT_DIR OUT_IMG: GPT disk with a 64 MiB FAT32 ESP from ESP_DIR, then a
	# 96 MiB FAT32 XBOOTLDR partition (type bc13c2ff-…, as systemd-boot looks for it on the ESP's disk)
	# from BOOT_DIR; made with sfdisk, mkfs.vfat and mtools, no mount.
	local img=$3 esp_s=$((64 * 2048)) boot_s=$((96 * 2048)) part src off
	rm -f "$img"
	truncate -s $((1 + 64 + 96 + 1))M "$img"
	printf 'label: gpt\nlabel-id: 4c5a4254-d15c-4000-8000-000000000002\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=%s\nstart=%d, size=%d, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, uuid=%s\n' \
		"$esp_s" "$VM_ESP_PARTUUID" $((2048 + esp_s)) "$boot_s" "$VM_XBOOTLDR_PARTUUID" | sfdisk -q "$img"
	for part in 1 2; do
		if ((part == 1)); then src=$1 off=2048; else src=$2 off=$((2048 + esp_s)); fi
		_vm_quiet mkfs.vfat -F 32 -n "$( ((part == 1)) && echo ESP || echo XBOOTLDR)" -i 4c5a425$part --offset=$off "$img" \
			$(( ((part == 1) ? esp_s : boot_s) / 2))
		shopt -s nullglob dotglob
		local files=("$src"/*)
		shopt -u nullglob dotglob
		if ((${#files[@]})); then
			MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$img@@$((off * 512))" "${files[@]}" ::/
		fi
	done
}

# ---- the firmware's TCG event log, as the guest printed it (cmdline lzbt.eventlog=1) ----------------------

vm_eventlog() { # NAME OUT: the event log from NAME's serial log into OUT; fails the test if there is none
	tr -d '\r' <"$(vm_log "$1")" | sed -n '/^LZBT EVENTLOG BEGIN$/,/^LZBT EVENTLOG END$/p' | sed '1d;$d' |
		base64 -d >"$2" || vm_fail "$1" "no event log in the serial log"
	[[ -s $2 ]] || vm_fail "$1" "no event log in the serial log"
}

vm_eventlog_events() { # FILE PCR: how many events of the event log FILE extend PCR (tpm2_eventlog's reading)
	tpm2_eventlog "$1" 2>/dev/null | grep -cE "^ *PCRIndex: $2\$" || true
}

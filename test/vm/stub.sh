# shellcheck shell=bash
# Fixtures for tests of our stub: ESPs installed by lanzatool from test generations, and embedded
# UKIs assembled with objcopy; predictions made with tools we did not write (systemd-measure,
# objcopy, openssl). Source after lib.sh.

LZB_BUILD=${LANZABOOTE_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
LZB_STUB=$LZB_BUILD/src/boot/efi/lanzabootx64.efi.stub
LZB_TOOL=$LZB_BUILD/src/lanzatool/lanzatool
[[ -f $LZB_STUB && -x $LZB_TOOL ]] || { echo "FAIL: $LZB_STUB or $LZB_TOOL is not built" >&2; exit 1; }
# shellcheck source=test/lib/bootspec.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bootspec.sh"

# lzbt_generation DIR N [SPECIALISATION...]: DIR/profiles/system-N-link booting the test kernel and
# initrd with lzbt.test=genN on the command line.
lzbt_generation() {
	local kdir=$1/store/k-linux-6.1.0
	mkdir -p "$kdir" && ln -sf "$VM_KERNEL" "$kdir/bzImage" && ln -sf "$VM_INITRD" "$kdir/initrd"
	GEN_ROOT=$1 KERNEL=$kdir/bzImage INITRD=$kdir/initrd \
		PARAMS="\"console=ttyS0\", \"panic=-1\", \"quiet\", \"no_timer_check\", \"lzbt.test=gen$2\"" mk_generation "$2" k "${@:3}"
}

# lzbt_install DIR [OPTION...] N...: lanzatool installs generations N... of DIR onto DIR/esp.
lzbt_install() {
	local d=$1 opts=() gens=()
	shift
	for a; do [[ $a == -* ]] && opts+=("$a") || gens+=("$d/profiles/system-$a-link"); done
	mkdir -p "$d/esp"
	# The host's own firmware (its db, Secure Boot state) has nothing to say about the VM's ESP.
	LANZATOOL_EFIVARFS=${LANZATOOL_EFIVARFS:-$d/no-efivars} LANZATOOL_RELAX_ESP_CHECKS=1 "$LZB_TOOL" -q --esp-path="$d/esp" --pki-bundle="$VM_PKI" --stub="$LZB_STUB" \
		--no-variables --timeout=0 "${opts[@]}" install "${gens[@]}"
}

lzbt_entry() { # DIR N: the installed stub of generation N (not a specialisation)
	ls "$1"/esp/EFI/Linux/nixos-generation-"$2"-[a-z2-7]*.efi | grep -v specialisation
}

# DIR STUB: DIR/{kernel,initrd,osrel,cmdline}, what the stub pins, for stub_predict_pcr11.
stub_inputs() {
	ln -sf "$VM_KERNEL" "$1/kernel"
	ln -sf "$VM_INITRD" "$1/initrd"
	objcopy -O binary --only-section=.osrel "$2" "$1/osrel"
	objcopy -O binary --only-section=.cmdline "$2" "$1/cmdline"
}

# DIR CMDLINE: DIR/stub.efi (unsigned), embedded mode: the kernel and initrd inside, as sd-stub.
stub_embedded() {
	ln -sf "$VM_KERNEL" "$1/kernel"
	ln -sf "$VM_INITRD" "$1/initrd"
	printf 'ID=nixos\nPRETTY_NAME=NixOS test (Generation 1, 2026-11-25)\nVERSION_ID=test\n' >"$1/osrel"
	printf '%s' "$2" >"$1/cmdline"
	vm_mkuki "$LZB_STUB" "$1/stub.efi" .osrel="$1/osrel" .cmdline="$1/cmdline" .linux="$1/kernel" \
		.initrd="$1/initrd"
}

pcr_extend() { # PCR_HEX DATA_FILE: print sha256(PCR || sha256(DATA))
	{ xxd -r -p <<<"$1"; openssl dgst -sha256 -binary "$2"; } | openssl dgst -sha256 -r | cut -d' ' -f1
}

# DIR: the PCR 11 our stub should produce for DIR's kernel, initrd, osrel and cmdline:
# systemd-measure's value (Debian's 252 knows no .sbat), then the .sbat name and contents that
# come last in the canonical order, extended with openssl.
stub_predict_pcr11() {
	local d=$1 pcr
	pcr=$(vm_predict_pcr11 --linux="$d/kernel" --osrel="$d/osrel" --cmdline="$d/cmdline" --initrd="$d/initrd")
	objcopy -O binary --only-section=.sbat "$LZB_STUB" "$d/sbat"
	printf '.sbat\0' >"$d/sbat-name"
	pcr=$(pcr_extend "$pcr" "$d/sbat-name")
	pcr_extend "$pcr" "$d/sbat"
}

utf16_hex() { vm_utf16_hex "$@"; } # TEXT: hex of TEXT as UTF-16LE with its NUL, as the stub writes EFI variables

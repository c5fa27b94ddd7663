# shellcheck shell=bash
# Fixtures for tests of our stub, assembled with tools we did not write (objcopy, sbsign, openssl)
# until lanzatool builds stubs itself. Source after lib.sh.

LZB_BUILD=${LANZABOOTE_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
LZB_STUB=$LZB_BUILD/src/boot/efi/lanzabootx64.efi.stub
[[ -f $LZB_STUB ]] || { echo "FAIL: $LZB_STUB is not built" >&2; exit 1; }

stub_common_sections() { # DIR CMDLINE: DIR/osrel and DIR/cmdline as lanzatool writes them
	printf 'ID=nixos\nPRETTY_NAME=NixOS test (Generation 1, 2026-11-25)\nVERSION_ID=test\n' >"$1/osrel"
	printf '%s' "$2" >"$1/cmdline"
}

# DIR CMDLINE: DIR/stub.efi (unsigned), external mode, pinning the test kernel and initrd that
# are copied to DIR/esp/EFI/nixos/; DIR/kernel and DIR/initrd are the pinned files.
stub_external() {
	local d=$1 f
	mkdir -p "$d/esp/EFI/nixos"
	cp "$VM_KERNEL" "$d/esp/EFI/nixos/kernel-test.efi"
	cp "$VM_INITRD" "$d/esp/EFI/nixos/initrd-test.efi"
	ln -sf esp/EFI/nixos/kernel-test.efi "$d/kernel"
	ln -sf esp/EFI/nixos/initrd-test.efi "$d/initrd"
	stub_common_sections "$d" "$2"
	printf '%s' '\EFI\nixos\kernel-test.efi' >"$d/linux-path"
	printf '%s' '\EFI\nixos\initrd-test.efi' >"$d/initrd-path"
	for f in kernel initrd; do
		openssl dgst -sha256 -binary "$d/$f" >"$d/$f-hash"
	done
	vm_mkuki "$LZB_STUB" "$d/stub.efi" .osrel="$d/osrel" .cmdline="$d/cmdline" .linux="$d/linux-path" \
		.initrd="$d/initrd-path" .linuxh="$d/kernel-hash" .initrdh="$d/initrd-hash"
}

# DIR CMDLINE: DIR/stub.efi (unsigned), embedded mode: the kernel and initrd inside, as sd-stub.
stub_embedded() {
	ln -sf "$VM_KERNEL" "$1/kernel"
	ln -sf "$VM_INITRD" "$1/initrd"
	stub_common_sections "$1" "$2"
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

utf16_hex() { # TEXT: hex of TEXT as UTF-16LE with its NUL, as the stub writes EFI variables
	{ printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE; printf '\0\0'; } | od -An -v -tx1 | tr -d ' \n'
}

#!/bin/bash
# Installs the Debian packages Lanzaboote needs to build and test, only those missing.
# Sourced by tools/demo.sh and tools/test.sh; runs apt-get as root (or through sudo).
set -euo pipefail

LANZABOOTE_PACKAGES=(
        # build
        meson ninja-build gcc clang lld pkg-config libssl-dev libjson-c-dev libfdisk-dev clang-format
        # tests: oracles and the VM chain
        qemu-system-x86 ovmf qemu-system-arm qemu-efi-aarch64 swtpm swtpm-tools systemd-boot-efi systemd sbsigntool pesign efitools
        mtools dosfstools fdisk busybox-static cpio openssl tpm2-tools binutils python3 python3-pefile
        osslsigncode strace xxd llvm
        kmod
        # signing: fwupd's EFI binary to sign, a PKCS#11 token (SoftHSM2) and OpenSSL's pkcs11 engine
        fwupd-amd64-signed softhsm2 libengine-pkcs11-openssl
)

deps_missing() {
        local p
        for p in "${LANZABOOTE_PACKAGES[@]}"; do
                dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
        done
}

deps_install() {
        local missing sudo=()
        mapfile -t missing < <(deps_missing)
        [ "${#missing[@]}" -eq 0 ] && return 0
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        echo "lanzaboote: installing ${missing[*]}" >&2
        if ! { "${sudo[@]}" apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
                        "${missing[@]}" >/dev/null; }; then
                echo "lanzaboote: could not install: $(deps_missing | tr '\n' ' ')" >&2
                echo "lanzaboote: install them with apt-get and run again" >&2
                return 1
        fi
}

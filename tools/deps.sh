#!/bin/bash
# Installs the Debian packages Lanzaboote needs to build and test, only those missing.
# Sourced by tools/demo.sh and tools/test.sh; runs apt-get as root (or through sudo).
set -euo pipefail
# shellcheck source=test/lib/apt-private.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/test/lib/apt-private.sh"

LANZABOOTE_PACKAGES=(
        # build
        meson ninja-build gcc clang lld pkg-config libssl-dev libjson-c-dev libfdisk-dev clang-format
        # the libFuzzer targets (test/fuzz): libFuzzer and the sanitizer runtimes for clang 14
        libclang-rt-14-dev
        # tests: oracles and the VM chain
        qemu-system-x86 ovmf qemu-system-arm qemu-efi-aarch64 swtpm swtpm-tools systemd-boot-efi systemd sbsigntool pesign efitools
        mtools dosfstools fdisk busybox-static cpio openssl tpm2-tools binutils python3 python3-pefile
        osslsigncode strace xxd efibootmgr llvm
        # the man page test (groff -ww) and the JSON checks (jq)
        groff-base jq
        kmod
        # signing: fwupd's EFI binary to sign, a PKCS#11 token (SoftHSM2) and OpenSSL's pkcs11 engine
        fwupd-amd64-signed softhsm2 libengine-pkcs11-openssl
        # the NixOS module's tests: nix-instantiate, nix-build
        nix-bin
        # the sd-stub patch series: building systemd-boot and sd-stub from Debian's systemd source
        # (tools/build-systemd-stub.sh): dpkg-source, patch, and what systemd's meson setup requires
        dpkg-dev patch gettext gperf libcap-dev libmount-dev python3-jinja2 python3-pyelftools
        # rotate-keys tests: a successor key made in the token by the token's own tool (pkcs11-tool)
        opensc
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

# osslsigncode >= 2.6 for the signature checks (see test/lib/osslsigncode for what 2.5 gets wrong): if the
# system's is older, bookworm-backports' through a private apt configuration (/etc/apt untouched), unpacked
# into the VM cache. The directory appears only when the unpacked binary runs and is new enough.
deps_osslsigncode() {
        local cache=${LANZABOOTE_TEST_CACHE:-$HOME/.cache/lanzaboote-test} sys apt tmp ver
        local wrapper
        wrapper="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/test/lib/osslsigncode"
        sys=$(command -v osslsigncode || true)
        if [ -n "$sys" ] && LANZABOOTE_OSSLSIGNCODE=$sys "$wrapper" --version >/dev/null 2>&1; then
                return 0
        fi
        [ ! -x "$cache/osslsigncode/usr/bin/osslsigncode" ] || return 0
        echo "lanzaboote: osslsigncode ${sys:-(none)} is too old; fetching bookworm-backports' into $cache" >&2
        apt=$cache/apt-backports tmp=$cache/osslsigncode.tmp
        rm -rf "$tmp"
        mkdir -p "$tmp"
        if ! apt_private_init "$apt" bookworm-backports ||
                ! ver=$(apt_private_version "$apt" osslsigncode bookworm-backports) ||
                [ -z "$ver" ] || ! apt_private_download "$apt" "$tmp" "osslsigncode=$ver" ||
                ! dpkg-deb -x "$tmp"/osslsigncode_*.deb "$tmp/root" ||
                ! LANZABOOTE_OSSLSIGNCODE=$tmp/root/usr/bin/osslsigncode "$wrapper" --version >/dev/null; then
                echo "lanzaboote: could not fetch a working osslsigncode from bookworm-backports" >&2
                rm -rf "$tmp"
                return 1
        fi
        rm -rf "$cache/osslsigncode"
        mv "$tmp/root" "$cache/osslsigncode"
        rm -rf "$tmp"
}

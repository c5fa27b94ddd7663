# shellcheck shell=bash
# Oracles for UKIs that systemd's own tools build and predict, for the ukify and sd-stub tests. Source after
# lib.sh and call after vm_prepare.
#
# - ukify: trixie's, from the systemd 257 source that tools/build-systemd-stub.sh fetches (the same file
#   Debian's systemd-ukify package installs), run with Debian 12's python3 and python3-pefile.
# - systemd-measure: Debian 12's 252 knows neither .sbat nor .ucode; bookworm-backports' (254) knows .sbat and
#   .uname, and runs on Debian 12 from its unpacked packages (systemd-measure and libsystemd-shared). It is
#   fetched through a private apt root (test/lib/apt-private.sh) into the cache; /etc/apt is not touched.

# shellcheck source=test/lib/apt-private.sh
source "$VM_DIR/../lib/apt-private.sh"

UKIFY_MEASURE_DIR=$VM_CACHE/systemd-measure-bpo
UKIFY_APT=$VM_CACHE/apt-backports # the same private apt root as tools/deps.sh's osslsigncode

_ukify_fetch_measure() { # VERSION: unpack systemd-measure and libsystemd-shared VERSION into $UKIFY_MEASURE_DIR
	local tmp=$UKIFY_MEASURE_DIR.tmp p
	rm -rf "$tmp" "$UKIFY_MEASURE_DIR"
	mkdir -p "$tmp/debs" "$tmp/bin"
	apt_private_download "$UKIFY_APT" "$tmp/debs" "systemd=$1" "libsystemd-shared=$1"
	for p in "$tmp"/debs/*.deb; do dpkg-deb -x "$p" "$tmp/root"; done
	mv "$tmp"/root/lib/systemd/systemd-measure "$tmp/bin/"
	mv "$tmp"/root/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-*.so "$tmp/bin/"
	rm -rf "${tmp:?}/root" "${tmp:?}/debs"
	LD_LIBRARY_PATH=$tmp/bin "$tmp/bin/systemd-measure" --help | grep -q -- '--sbat=PATH'
	mv "$tmp" "$UKIFY_MEASURE_DIR"
}

# Sets UKIFY (ukify.py) and UKIFY_ADDON (systemd's addon stub of the same source, unpatched); afterwards
# ukify and ukify_measure run. Fails (never skips) when an oracle is missing.
ukify_prepare() {
	local v root built
	root=$(cd "$VM_DIR/../.." && pwd)
	apt_private_init "$UKIFY_APT" bookworm-backports
	v=$(apt_private_version "$UKIFY_APT" libsystemd-shared bookworm-backports)
	[[ -n $v ]] || { _vm_say "bookworm-backports lists no libsystemd-shared"; return 1; }
	_vm_step systemd-measure-bpo "$UKIFY_MEASURE_DIR/bin/systemd-measure" "1 $v" _ukify_fetch_measure "$v"
	built=$("$root/tools/build-systemd-stub.sh" 257 --unpatched)
	UKIFY=$(sed -n 's/^ukify //p' <<<"$built") UKIFY_ADDON=$(sed -n 's/^addon //p' <<<"$built")
	[[ -f $UKIFY && -f $UKIFY_ADDON ]] || { _vm_say "tools/build-systemd-stub.sh printed no ukify or addon stub"; return 1; }
}

ukify() { # ARG...: trixie's ukify; its --measure finds bookworm-backports' systemd-measure first in PATH
	PATH=$UKIFY_MEASURE_DIR/bin:$PATH LD_LIBRARY_PATH=$UKIFY_MEASURE_DIR/bin /usr/bin/python3 "$UKIFY" "$@"
}

ukify_measure() { # SECTION OPTIONS (--linux=FILE ...): sha256 PCR 11 from bookworm-backports' systemd-measure
	local out
	out=$(LD_LIBRARY_PATH=$UKIFY_MEASURE_DIR/bin "$UKIFY_MEASURE_DIR/bin/systemd-measure" calculate "$@" \
		--bank=sha256 --phase= 2>&1)
	[[ $out =~ 11:sha256=([0-9a-f]{64}) ]] || { echo "$out" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

# PE DIR: systemd-measure's sha256 PCR 11 (no phase) for the measured sections of the UKI PE, extracted with
# objcopy into DIR; also sets UKIFY_SECTIONS to how many there were.
ukify_predict_pe() {
	local s args=()
	UKIFY_SECTIONS=0
	mkdir -p "$2"
	for s in linux osrel cmdline initrd ucode splash dtb uname sbat pcrpkey; do
		objdump -h -w "$1" | grep -q " \.$s " || continue
		objcopy -O binary --only-section=".$s" "$1" "$2/$s"
		args+=("--$s=$2/$s")
		UKIFY_SECTIONS=$((UKIFY_SECTIONS + 1))
	done
	ukify_measure "${args[@]}"
}

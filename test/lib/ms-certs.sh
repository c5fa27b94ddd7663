# shellcheck shell=bash
# Microsoft's Secure Boot certificates as Debian ships them: python3-virt-firmware carries them as PEM files
# under virt/firmware/certs/ (sid's 26.x in microsoft.com/, with "Microsoft Option ROM UEFI CA 2023"; trixie's
# 24.11 lacks that one). Fetched through the private apt root into the test cache; nothing of ours decides
# which file is which: each certificate is named after its subject's CN, as openssl reads it.
#
#   ms_certs_prepare   sets MS_CERTS to a directory holding every Microsoft Corporation certificate of the
#                      package as DER, named CN with spaces as '-' (e.g. Microsoft-UEFI-CA-2023.der), and
#                      MS_CERTS_ROOT to a directory holding the package's certificate files at their installed
#                      paths (usr/lib/python3/dist-packages/virt/firmware/certs/); refetched when the suite's
#                      version moves; a failed fetch leaves nothing behind

MS_CERTS_SUITE=sid
MS_CERTS_REQUIRED=("Microsoft Corporation UEFI CA 2011" "Microsoft UEFI CA 2023" "Microsoft Option ROM UEFI CA 2023")

_ms_certs_say() { echo "ms-certs: $*" >&2; }

_ms_certs_build() { # APT_ROOT VERSION DIR
	local tmp=$3.tmp f cn
	rm -rf "$tmp" "$3"
	mkdir -p "$tmp/deb" "$tmp/x"
	apt_private_download "$1" "$tmp/deb" "python3-virt-firmware=$2" || return 1
	dpkg-deb -x "$tmp"/deb/*.deb "$tmp/x" || return 1
	while IFS= read -r -d '' f; do
		[[ $(openssl x509 -in "$f" -noout -subject -nameopt multiline 2>/dev/null) == *"organizationName"*"= Microsoft Corporation"* ]] ||
			continue
		cn=$(openssl x509 -in "$f" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p')
		openssl x509 -in "$f" -outform DER -out "$tmp/${cn// /-}.der" || return 1
	done < <(find "$tmp/x" -path '*/virt/firmware/certs/*' -name '*.pem' -print0 | sort -z)
	for cn in "${MS_CERTS_REQUIRED[@]}"; do
		[[ -s $tmp/${cn// /-}.der ]] || { _ms_certs_say "python3-virt-firmware $2 has no $cn"; return 1; }
	done
	mkdir -p "$tmp/root/usr/lib/python3/dist-packages/virt/firmware"
	mv "$tmp/x/usr/lib/python3/dist-packages/virt/firmware/certs" "$tmp/root/usr/lib/python3/dist-packages/virt/firmware/"
	rm -rf "${tmp:?}/deb" "${tmp:?}/x"
	echo "$2" >"$tmp/version"
	mv "$tmp" "$3"
}

ms_certs_prepare() {
	local cache=${LANZABOOTE_TEST_CACHE:-$HOME/.cache/lanzaboote-test} apt v
	apt=$cache/apt-$MS_CERTS_SUITE
	MS_CERTS=$cache/ms-certs
	MS_CERTS_ROOT=$MS_CERTS/root
	apt_private_init "$apt" "$MS_CERTS_SUITE" || return 1
	v=$(apt_private_version "$apt" python3-virt-firmware "$MS_CERTS_SUITE")
	[[ -n $v ]] || { _ms_certs_say "no python3-virt-firmware in $MS_CERTS_SUITE ($apt)"; return 1; }
	[[ -f $MS_CERTS/version && $(<"$MS_CERTS/version") == "$v" ]] && return 0
	_ms_certs_build "$apt" "$v" "$MS_CERTS"
}

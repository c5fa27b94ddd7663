# shellcheck shell=bash
# Fixtures for lanzatool's install tests: a fake Nix store and profile of generations, a PKI in
# sbctl's layout, ESP snapshots. Every test runs in its own temporary directory.
set -euo pipefail

LANZATOOL=${LANZATOOL:?LANZATOOL must name the lanzatool binary}
LANZABOOTE_STUB=${LANZABOOTE_STUB:-}
[[ -f $LANZABOOTE_STUB ]] || { echo "SKIP: no stub built (LANZABOOTE_STUB)"; exit 77; }
PY=/usr/bin/python3 # Debian's, with python3-pefile; not whatever python3 comes first on PATH
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/lzbt-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
export LANZATOOL_RELAX_ESP_CHECKS=1 LANZATOOL_EFIVARFS=$T/efivars
mkdir -p "$T/store" "$T/profiles" "$T/esp" "$T/efivars"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

mk_pki() { # DIR [CN]: RSA keys and self-signed certificates in sbctl's layout
	local k
	for k in PK KEK db; do
		mkdir -p "$1/keys/$k"
		openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=${2:-lzbt test} $k/" \
			-keyout "$1/keys/$k/$k.key" -out "$1/keys/$k/$k.pem" 2>/dev/null
	done
	cat /proc/sys/kernel/random/uuid >"$1/GUID"
}

# mk_file PATH SIZE SEED: deterministic content standing in for a kernel or initrd
mk_file() {
	mkdir -p "$(dirname "$1")"
	head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:$3" -pbkdf2 2>/dev/null >"$1"
}

# bootspec_json KERNEL INITRD TOPLEVEL PARAMS [SPECIALISATIONS_JSON]
bootspec_json() {
	cat <<JSON
{
  "org.nix-community.lanzaboote": { "sort_key": "lanza" },
  "org.nixos.bootspec.v1": {
    "init": "$3/init",
    "initrd": "$2",
    "kernel": "$1",
    "kernelParams": [$4],
    "label": "NixOS Test 26.05 (Linux 6.1.0)",
    "system": "x86_64-linux",
    "toplevel": "$3"
  },
  "org.nixos.specialisation.v1": {${5:-}}
}
JSON
}

# mk_generation N [KERNEL_SEED] [SPECIALISATION...]: profiles/system-N-link -> a toplevel with boot.json;
# generations with the same KERNEL_SEED share kernel and initrd. KERNEL/INITRD override the files.
mk_generation() {
	local n=$1 seed=${2:-k1} top=$T/store/top$1-nixos-system kdir=$T/store/${2:-k1}-linux-6.1.0 spec specs=''
	local kernel=${KERNEL:-$kdir/bzImage} initrd=${INITRD:-$kdir/initrd}
	[[ -n ${KERNEL:-} || -f $kernel ]] || mk_file "$kernel" 300000 "$seed-kernel"
	[[ -n ${INITRD:-} || -f $initrd ]] || mk_file "$initrd" 200000 "$seed-initrd"
	shift 2 || shift $#
	for spec; do
		mkdir -p "$top/specialisation/$spec"
		specs+="${specs:+,}\"$spec\": $(bootspec_json "$kernel" "$initrd" "$top/specialisation/$spec" "${PARAMS:-\"quiet\"}, \"spec=$spec\"")"
	done
	mkdir -p "$top"
	bootspec_json "$kernel" "$initrd" "$top" "${PARAMS:-\"quiet\"}" "$specs" >"$top/boot.json"
	ln -sfn "$top" "$T/profiles/system-$n-link"
	touch -h -d "2026-11-0$((n % 9 + 1)) 12:00 UTC" "$T/profiles/system-$n-link"
}

lzbt() { # lanzatool with the test's ESP, keys and stub
	"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" "$@"
}

install_gens() { # N...: install those generations
	local g args=()
	for g; do args+=("$T/profiles/system-$g-link"); done
	lzbt -q --no-variables --timeout=0 install "${args[@]}"
}

esp_snapshot() { # print every file on the ESP with its hash, mode and mtime
	(cd "$T/esp" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %a %Y' &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

check_esp() { # [PREVIOUS_DEFAULT]: the independent checker of the install invariant
	"$PY" "$HERE/check-esp.py" "$T/esp" "$@"
}

mk_pki "$T/pki"

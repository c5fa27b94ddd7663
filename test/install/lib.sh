# shellcheck shell=bash
# Fixtures for lanzatool's install tests: a fake Nix store and profile of generations, a PKI in
# sbctl's layout, ESP snapshots. Every test runs in its own temporary directory.
set -euo pipefail

LANZATOOL=${LANZATOOL:?LANZATOOL must name the lanzatool binary}
LANZABOOTE_STUB=${LANZABOOTE_STUB:-}
[[ -f $LANZABOOTE_STUB ]] || { echo "SKIP: no stub built (LANZABOOTE_STUB)"; exit 77; }
PY=/usr/bin/python3 # Debian's, with python3-pefile; not whatever python3 comes first on PATH
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/lib/bootspec.sh
source "$HERE/../lib/bootspec.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/lzbt-install.XXXXXX")
# on_exit RC [CMD...]: at exit, a test that passed fails if any ESP it made ($T/*esp*) holds private key
# material; then CMD (a test's own cleanup: its EXIT trap is 'on_exit $? CMD...'), then $T goes.
on_exit() {
	local rc=$1 esps
	shift
	mapfile -t esps < <(find "$T" -maxdepth 2 -type d -name '*esp*')
	if ((rc == 0 && ${#esps[@]})) && ! "$PY" "$HERE/check-esp.py" --keys-only --keys "$T" "${esps[@]}"; then
		echo "FAIL: private key material on the ESP" >&2
		rc=1
	fi
	(($#)) && { "$@" || true; }
	rm -rf "$T"
	exit "$rc"
}
trap 'on_exit $?' EXIT
export LANZATOOL_RELAX_ESP_CHECKS=1 LANZATOOL_EFIVARFS=$T/efivars LANZATOOL_STATE_DIR=$T/state
mkdir -p "$T/esp" "$T/efivars"
GEN_ROOT=$T

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

check_esp() { # [PREVIOUS_DEFAULT]: the independent checker of the install invariant, signatures against
	# $CHECK_ESP_DB (default: the test PKI's db certificate)
	"$PY" "$HERE/check-esp.py" --db "${CHECK_ESP_DB:-$T/pki/keys/db/db.pem}" --keys "$T" \
		--sig-cache "$T/check-esp.sigs" "$T/esp" "$@"
}

mk_pki "$T/pki"

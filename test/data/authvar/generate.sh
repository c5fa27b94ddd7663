#!/bin/bash
# Regenerates the fixtures of test/unit/test-authvar.c with efitools, the oracle our signature lists and
# authenticated variables must equal byte for byte. Run it here; commit its output.
#   keys/{PK,KEK,db}.{key,pem}  RSA-2048 test keys and self-signed certificates (test use only)
#   X.esl                       cert-to-efi-sig-list -g OWNER X.pem
#   X.auth                      sign-efi-sig-list -t TIMESTAMP, PK and KEK signed by PK, db by KEK
#   db-append.auth              the same for db with -a (APPEND_WRITE)
#   db-two.esl, db-two.auth     the lists of db and KEK back to back, signed as db
set -euo pipefail
cd "$(dirname "$0")"
OWNER=6c7a6274-7465-4573-b461-757468766172
TIMESTAMP='2024-01-02 03:04:05'
declare -A signer=([PK]=PK [KEK]=PK [db]=KEK)

rm -rf keys ./*.esl ./*.auth
mkdir keys
for k in PK KEK db; do
	openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 -subj "/CN=lanzaboote authvar test $k/" \
		-keyout "keys/$k.key" -out "keys/$k.pem" 2>/dev/null
	cert-to-efi-sig-list -g "$OWNER" "keys/$k.pem" "$k.esl"
done
cat db.esl KEK.esl >db-two.esl
sign() { # NAME SIGNER IN OUT [-a]
	sign-efi-sig-list ${5:-} -t "$TIMESTAMP" -k "keys/$2.key" -c "keys/$2.pem" "$1" "$3" "$4" >/dev/null
}
for k in PK KEK db; do sign "$k" "${signer[$k]}" "$k.esl" "$k.auth"; done
sign db KEK db.esl db-append.auth -a
sign db KEK db-two.esl db-two.auth

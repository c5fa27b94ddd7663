#!/usr/bin/env bash
# Each bad input: exit 1, one message naming the file and the problem, the ESP byte-identical.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_generation 1 k1
install_gens 1
esp_snapshot >"$T/before"

# expect NAME ERE ARGS...: lanzatool ARGS fails with exit 1 and one stderr line matching ERE
expect() {
	local name=$1 re=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "$name: exit $rc, expected 1 ($(cat "$T/err"))"
	[[ $(wc -l <"$T/err") == 1 ]] || fail "$name: expected one line, got: $(cat "$T/err")"
	grep -qE "$re" "$T/err" || fail "$name: message '$(cat "$T/err")' does not match /$re/"
	esp_snapshot >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "$name: the ESP changed"
	echo "ok $name: $(cat "$T/err")"
}

# bad NAME ERE JQ-LIKE-PYTHON: a generation 2 whose boot.json is edited by a python expression on d
bad() {
	local name=$1 re=$2 edit=$3
	mk_generation 2 k1
	local top=$T/store/top2-nixos-system
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); b=d['org.nixos.bootspec.v1']; $edit; json.dump(d, open(sys.argv[1],'w'))" "$top/boot.json"
	expect "$name" "$re" lzbt --no-variables install "$T/profiles/system-1-link" "$T/profiles/system-2-link"
}

mk_generation 2 k1
printf '{"org.nixos.bootspec.v1": {' >"$T/store/top2-nixos-system/boot.json"
expect malformed-json "system-2-link/boot.json: not valid JSON" lzbt install "$T/profiles/system-2-link"
bad wrong-type 'system-2-link/boot.json: .*"kernel" must be a string' "b['kernel']=42"
bad missing-field 'system-2-link/boot.json: .*"init"' "del b['init']"
bad missing-kernel 'nope/bzImage' "b['kernel']='$T/store/nope/bzImage'"
bad kernel-is-dir "$T/store/k1-linux-6.1.0.*[Dd]irectory" "b['kernel']='$T/store/k1-linux-6.1.0'"
bad dotdot 'system-2-link/boot.json: .*"kernel".*\.\.' "b['kernel']='$T/store/../store/k1-linux-6.1.0/bzImage'"
bad nul 'system-2-link/boot.json: .*"kernel".*NUL' "b['kernel']='$T/store/k1\u0000/bzImage'"
bad system 'system-2-link/boot.json: .*unsupported system "riscv64-linux"' "b['system']='riscv64-linux'"
mk_generation 2 k1

cp -r "$T/pki" "$T/pki-bad" && printf 'garbage\n' >"$T/pki-bad/keys/db/db.key"
expect unreadable-key 'pki-bad/keys/db/db.key' "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki-bad" \
	--stub="$LANZABOOTE_STUB" install "$T/profiles/system-2-link"
mk_pki "$T/other" other
cp "$T/other/keys/db/db.key" "$T/pki-bad/keys/db/db.key"
expect key-mismatch 'pki-bad/keys/db/db.(key|pem).*(match|belong)' "$LANZATOOL" --esp-path="$T/esp" \
	--pki-bundle="$T/pki-bad" --stub="$LANZABOOTE_STUB" install "$T/profiles/system-2-link"
printf 'MZ but not really a PE\n' >"$T/notpe.efi"
expect stub-not-pe "notpe.efi" "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$T/notpe.efi" \
	install "$T/profiles/system-2-link"
expect not-an-esp "$T/esp: not a mount point" env -u LANZATOOL_RELAX_ESP_CHECKS "$LANZATOOL" --esp-path="$T/esp" \
	--pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" install "$T/profiles/system-2-link"

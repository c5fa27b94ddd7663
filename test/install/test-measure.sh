#!/usr/bin/env bash
# lanzatool measure against Debian's systemd-measure 252, which we did not write: PCR 11 for 20 random section
# sets in every bank and phase (text and JSON, byte for byte), and signed policies (pol, pkfp, sig) against
# systemd-measure sign on swtpm, checked with openssl too. Then install --pcr-private-key: every stub's .pcrpkey
# and .pcrsig, idempotence, and refusals.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDM=/usr/lib/systemd/systemd-measure
[[ -x $SDM ]] || fail "$SDM missing"
command -v swtpm >/dev/null || fail "swtpm missing"
# shellcheck source=test/lib/random.sh
source "$HERE/../lib/random.sh"
rng_init

measure() { "$LANZATOOL" "$@"; }

# Two free ports in a row: the swtpm TCTI finds the control port right after the server port.
free_ports() {
	"$PY" -c '
import socket
for port in range(20000, 40000, 2):
    try:
        for p in (port, port + 1):
            socket.socket().bind(("127.0.0.1", p))
        print(port)
        break
    except OSError:
        pass'
}

# systemd-measure 252 sign takes its policy digest from a TPM trial session: a private swtpm, stopped on exit.
mkdir -p "$T/tpm"
TPM_PORT=$(free_ports)
swtpm socket --tpm2 --tpmstate dir="$T/tpm" --server type=tcp,port="$TPM_PORT",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((TPM_PORT + 1)),bindaddr=127.0.0.1 --flags startup-clear --pid file="$T/tpm/pid" --daemon
stop_tpm() { [[ ! -s $T/tpm/pid ]] || kill "$(cat "$T/tpm/pid")"; }
trap 'on_exit $? stop_tpm' EXIT
for _ in {1..50}; do [[ -s $T/tpm/pid ]] && break; sleep 0.1; done
# By address: a fresh Debian root may have no /etc/hosts, and the TCTI's default host is "localhost".
TCTI=swtpm:host=127.0.0.1,port=$TPM_PORT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/pcr.key" 2>/dev/null
openssl pkey -in "$T/pcr.key" -pubout -out "$T/pcr.pem"

mk_file "$T/pool" $((32768 + 3 * 32768)) measure-pool

# random_sections DIR: sections=(--linux= always (systemd-measure requires it), each other section systemd 252
# knows half of the time, cut from a pool of random bytes; one file in eight is empty, which both must skip).
random_sections() {
	local d=$1 s size skip coin
	sections=()
	mkdir -p "$d"
	for s in linux osrel cmdline initrd splash dtb pcrpkey; do
		rng coin 2
		[[ $s == linux ]] || ((coin)) || continue
		rng coin 8
		rng size 32768
		((coin)) && size=$((size * 3)) || size=0
		rng skip 32768
		dd if="$T/pool" of="$d/$s" iflag=skip_bytes,count_bytes skip="$skip" count="$size" bs=64K status=none
		sections+=("--$s=$d/$s")
	done
}

# random_phases: options+=(none (the defaults), "--phase=" alone, or up to three paths with empty words and
# repeats)
random_phases() {
	local words=(enter-initrd leave-initrd sysinit ready shutdown final '') n i j k w p kind
	rng kind 3
	case $kind in
	0) ;;
	1) options+=(--phase=) ;;
	2)
		rng n 3
		for ((i = 0; i < 1 + n; i++)); do
			p=''
			rng k 4
			for ((j = 0; j < 1 + k; j++)); do
				rng w ${#words[@]}
				p+=${p:+:}${words[w]}
			done
			options+=("--phase=$p")
		done
		options+=("--phase=$p")
		;;
	esac
}

random_banks() { # options+=(the default four, or a few given twice and in any case)
	local coin
	rng coin 2
	((coin)) || return 0
	options+=(--bank=SHA256)
	rng coin 2
	((coin)) && options+=(--bank=sha1)
	rng coin 2
	((coin)) && options+=(--bank=sha512)
	options+=(--bank=sha256)
}

compared=0
for i in {1..20}; do
	d=$T/set$i
	options=()
	random_sections "$d"
	random_phases
	random_banks
	"$SDM" calculate "${sections[@]}" "${options[@]}" >"$d/sd.out" 2>"$d/sd.err"
	measure measure "${sections[@]}" "${options[@]}" >"$d/lz.out" 2>"$d/lz.err" || fail "set $i: measure failed"
	cmp -s "$d/sd.out" "$d/lz.out" || fail "set $i (${sections[*]} ${options[*]}): $(diff "$d/sd.out" "$d/lz.out")"
	cmp -s "$d/sd.err" "$d/lz.err" || fail "set $i: phase headers differ: $(diff "$d/sd.err" "$d/lz.err")"
	"$SDM" calculate --json=short "${sections[@]}" "${options[@]}" >"$d/sd.json"
	measure --json=short measure "${sections[@]}" "${options[@]}" >"$d/lz.json"
	cmp -s "$d/sd.json" "$d/lz.json" || fail "set $i: JSON differs: $(cat "$d/sd.json" "$d/lz.json")"

	"$SDM" sign --json=short --private-key="$T/pcr.key" --public-key="$T/pcr.pem" --tpm2-device="$TCTI" \
		"${sections[@]}" "${options[@]}" >"$d/sd.sig" || fail "set $i: systemd-measure sign failed"
	measure measure --pcr-private-key="$T/pcr.key" --pcr-public-key="$T/pcr.pem" "${sections[@]}" "${options[@]}" \
		>"$d/lz.sig" || fail "set $i: measure --pcr-private-key failed"
	cmp -s "$d/sd.sig" "$d/lz.sig" || fail "set $i: signatures differ: $(cat "$d/sd.sig" "$d/lz.sig")"
	compared=$((compared + $(grep -o '"sig"' "$d/lz.sig" | wc -l)))
done
echo "20 section sets: PCR 11 and $compared signed policies equal systemd-measure's"

# check_pcrsig JSON_FILE: pkfp is SHA-256 of openssl's PKCS#1 encoding of the key; every sha256 signature
# verifies with openssl pkeyutl over SHA-256(pol).
check_pcrsig() {
	local pkfp n=0
	pkfp=$(openssl rsa -pubin -in "$T/pcr.pem" -RSAPublicKey_out -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
	rm -rf "$T/sigs" && mkdir "$T/sigs"
	"$PY" - "$1" "$T/sigs" "$pkfp" <<'PY' || fail "$1: $(cat "$1")"
import base64, json, sys
doc = json.load(open(sys.argv[1]))
for bank, entries in doc.items():
    for i, e in enumerate(entries):
        assert e["pcrs"] == [11] and e["pkfp"] == sys.argv[3], e
        if bank == "sha256":
            open(f"{sys.argv[2]}/{i}.pol", "wb").write(bytes.fromhex(e["pol"]))
            open(f"{sys.argv[2]}/{i}.sig", "wb").write(base64.b64decode(e["sig"]))
PY
	for pol in "$T"/sigs/*.pol; do
		openssl dgst -sha256 -binary "$pol" >"${pol%.pol}.hash"
		openssl pkeyutl -verify -pubin -inkey "$T/pcr.pem" -in "${pol%.pol}.hash" -sigfile "${pol%.pol}.sig" \
			-pkeyopt digest:sha256 >/dev/null || fail "$1: signature over $(xxd -p -c 64 "$pol") does not verify"
		n=$((n + 1))
	done
	((n > 0)) || fail "$1: no sha256 entries"
}
check_pcrsig "$T/set1/lz.sig"

# check_pcrsig_policies STUB JSON: every "pol" of the installed stub's .pcrsig, bank by bank, is the policy
# the TPM (swtpm, a trial session through tpm2_policypcr) computes for the PCR 11 that test/vm/pcr-oracle.py
# (pefile and hashlib, not lanzatool) expects of the stub's sections, .sbat included, at each default phase.
# (systemd-measure 252 cannot be asked: it knows no .sbat.)
check_pcrsig_policies() {
	local stub=$1 bank phase pcr want got banks=(sha256)
	[[ $stub != "${stubs[0]}" ]] || banks=(sha1 sha256 sha384 sha512) # every bank once: the TPM is slow
	for bank in "${banks[@]}"; do
		want=''
		for phase in enter-initrd enter-initrd:leave-initrd enter-initrd:leave-initrd:sysinit \
			enter-initrd:leave-initrd:sysinit:ready; do
			pcr=$("$PY" "$HERE/../vm/pcr-oracle.py" pcr11 "$T/esp" "$stub" "$bank" "$phase")
			xxd -r -p <<<"$pcr" >"$T/pcr.bin"
			TPM2TOOLS_TCTI=$TCTI tpm2_startauthsession -S "$T/session.ctx" &&
				TPM2TOOLS_TCTI=$TCTI tpm2_policypcr -S "$T/session.ctx" -l "$bank:11" \
					-f "$T/pcr.bin" -L "$T/pol.bin" >/dev/null &&
				TPM2TOOLS_TCTI=$TCTI tpm2_flushcontext "$T/session.ctx" ||
				fail "$stub: tpm2_policypcr $bank:11 failed"
			want+="$(xxd -p -c 64 "$T/pol.bin")"$'\n'
		done
		got=$("$PY" -c 'import json, sys; print("\n".join(e["pol"] for e in json.load(open(sys.argv[1]))[sys.argv[2]]))' \
			"$2" "$bank") || fail "$2: no $bank entries"
		[[ $(sort <<<"$got") == "$(sort <<<"${want%$'\n'}")" ]] ||
			fail "$stub: .pcrsig $bank policies differ from the TPM's for the oracle's PCR 11: got $got, want $want"
	done
}

# install: two generations share a kernel and initrd, a third has its own.
mk_generation 1 k1
mk_generation 2 k1 docked
mk_generation 3 k2
pcr_install() { lzbt -q --no-variables --timeout=0 install "$@" "$T"/profiles/system-{1,2,3}-link; }
pcr_install --pcr-private-key="$T/pcr.key" --pcr-public-key="$T/pcr.pem" || fail "install --pcr-private-key"
stubs=("$T"/esp/EFI/Linux/*.efi)
((${#stubs[@]} == 4)) || fail "expected 4 stubs: ${stubs[*]}"
for s in "${stubs[@]}"; do
	n=$(basename "$s")
	objcopy -O binary --only-section=.pcrpkey "$s" "$T/pcrpkey"
	cmp -s "$T/pcrpkey" "$T/pcr.pem" || fail "$n: .pcrpkey is not the public key"
	objcopy -O binary --only-section=.pcrsig "$s" "$T/pcrsig"
	# measure skips .pcrsig and measures .pcrpkey, so signing the installed stub must give .pcrsig again.
	lzbt measure --pcr-private-key="$T/pcr.key" "$s" >"$T/resign" || fail "$n: measure --pcr-private-key"
	printf '%s\n' "$(cat "$T/pcrsig")" | cmp -s - "$T/resign" || fail "$n: .pcrsig signs other values"
	check_pcrsig "$T/pcrsig"
	check_pcrsig_policies "$s" "$T/pcrsig"

	# An external-mode stub is measured with the files it pins: as the same files given as sections.
	for sec in osrel cmdline sbat; do objcopy -O binary --only-section=".$sec" "$s" "$T/$sec"; done
	kernel=$T/esp/$(objcopy -O binary --only-section=.linux "$s" /dev/stdout | tr '\\' /)
	initrd=$T/esp/$(objcopy -O binary --only-section=.initrd "$s" /dev/stdout | tr '\\' /)
	lzbt measure "$s" >"$T/m-stub" 2>/dev/null || fail "$n: measure STUB"
	measure measure --linux="$kernel" --osrel="$T/osrel" --cmdline="$T/cmdline" --initrd="$initrd" \
		--sbat="$T/sbat" --pcrpkey="$T/pcrpkey" >"$T/m-files" 2>/dev/null
	cmp -s "$T/m-stub" "$T/m-files" || fail "$n: measure STUB differs from its sections: $(diff "$T/m-stub" "$T/m-files")"
done
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert sorted(d) == ["sha1", "sha256", "sha384", "sha512"] and all(len(v) == 4 for v in d.values()), d' \
	"$T/pcrsig" || fail ".pcrsig: not four banks of four phases"
echo "install: ${#stubs[@]} stubs carry .pcrpkey and a .pcrsig that measure reproduces and openssl verifies"

before=$(esp_snapshot)
pcr_install --pcr-private-key="$T/pcr.key" || fail "second install"
[[ $(esp_snapshot) == "$before" ]] || fail "a second install with the same key changed the ESP"

pcr_install --pcr-private-key="$T/pcr.key" --bank=sha256 --phase=enter-initrd || fail "install --bank --phase"
objcopy -O binary --only-section=.pcrsig "${stubs[0]}" "$T/pcrsig"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert list(d) == ["sha256"] and len(d["sha256"]) == 1, d' \
	"$T/pcrsig" || fail "--bank/--phase not applied: $(cat "$T/pcrsig")"

before=$(esp_snapshot)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/other.key" -pubout -out "$T/other.pem"
for bad in "--pcr-private-key=$T/missing.key:missing.key" "--pcr-private-key=$T/pcr.pem:pcr.pem" \
	"--pcr-public-key=$T/other.pem:other.pem"; do
	rc=0
	pcr_install --pcr-private-key="$T/pcr.key" "${bad%:*}" 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] && grep -q "${bad##*:}" "$T/err" || fail "install ${bad%:*}: exit $rc, $(cat "$T/err")"
	[[ $(esp_snapshot) == "$before" ]] || fail "install ${bad%:*} changed the ESP"
done

for usage in "measure" "measure --pcr=4" "--pcr=5 measure ${stubs[0]}" "--bank=md5 measure ${stubs[0]}" \
	"measure --linux=$T/pcr.pem ${stubs[0]}"; do
	rc=0
	# shellcheck disable=SC2086
	lzbt $usage >/dev/null 2>&1 || rc=$?
	[[ $rc == 2 ]] || fail "lanzatool $usage: exit $rc, expected 2"
done
rm "$kernel"
rc=0
lzbt measure "${stubs[-1]}" >/dev/null 2>"$T/err" || rc=$?
[[ $rc == 1 ]] && grep -q "$(basename "$kernel")" "$T/err" || fail "measure with a missing kernel: exit $rc, $(cat "$T/err")"
echo ok

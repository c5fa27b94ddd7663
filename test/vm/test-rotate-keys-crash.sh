#!/usr/bin/env bash
# rotate-keys --kek killed again and again, against the real firmware: a lanzatool built with crash
# hooks dies (SIGKILL) at the kth file or variable change of a run, and the next run takes over from
# what it left, until one finishes. The guest records every state the rotation passed through: db,
# the bundle's db certificate, every boot image of the ESP. Each image must verify (sbverify) with a
# certificate db held in that state: at no instant may the ESP be unbootable for the keys enrolled.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/stub.sh"
source "$(dirname "${BASH_SOURCE[0]}")/rotate.sh"

n=rotate-keys-crash
vm_prepare
w=$(vm_workdir "$n")

# lanzatool with -Dcrash-hooks=true (no stub needed: the ESP gets the one LZB_STUB names).
src=$(cd "$VM_DIR/../.." && pwd)
build=$VM_CACHE/build-crash-hooks-$(sha256sum <<<"$src" | cut -c1-12)
[[ -f $build/build.ninja ]] || _vm_quiet meson setup "$build" "$src" -Defi=false -Dcrash-hooks=true
_vm_quiet ninja -C "$build" src/lanzatool/lanzatool

rotate_prepare "$w" "$build/src/lanzatool/lanzatool" "$(cat <<'GUEST'
# What rotate-keys has changed so far: the bundle, db and KEK, the boot images (temporary files aside).
state() {
	find /lzbt/pki /mnt/esp/EFI/Linux /mnt/esp/EFI/BOOT /mnt/esp/EFI/systemd -type f ! -name '.lzbt-*' |
		sort | xargs sha256sum | cat - $DB_VAR $KEK_VAR | sha256sum
}
# State number N: db, the bundle's db certificate and the boot images (not named .efi: rotate-keys
# re-signs every .efi on the ESP that only the old key signed).
snapshot() {
	mkdir -p /mnt/esp/lzbt-test/s$1
	cp $DB_VAR /mnt/esp/lzbt-test/s$1/db.var
	cp /lzbt/pki/keys/db/db.pem /mnt/esp/lzbt-test/s$1/bundle-db.pem
	for f in /mnt/esp/EFI/Linux/*.efi /mnt/esp/EFI/BOOT/BOOTX64.EFI /mnt/esp/EFI/systemd/systemd-bootx64.efi; do
		cp $f /mnt/esp/lzbt-test/s$1/${f##*/}.image
	done
}
# Each run dies at its kth change. After a run that changed something, k starts again at 1: the
# next run dies at the first change it makes; after one that changed nothing, k grows. So every
# state the rotation passes through on its way is one that a run died in.
runs=0 states=0 k=1 last=$(state)
snapshot 0
while [ $runs -lt 300 ]; do
	runs=$((runs + 1))
	LANZATOOL_CRASH_AT=$k lzbt -q --kek rotate-keys /lzbt/gen/profiles/system-1-link 2>/dev/null
	rc=$?
	now=$(state)
	if [ "$now" != "$last" ]; then
		states=$((states + 1)) last=$now k=1
		snapshot $states
	else
		k=$((k + 1))
	fi
	[ $rc = 137 ] || break
done
echo "LZBT CRASHLOOP runs=$runs states=$states rc=$rc"
save_vars end
finish
GUEST
)"

vm_boot "$n" "$w/disk.img" --sb --timeout 900
# "LZBT SCRIPT": the guest harness ran; "LZBT CRASHLOOP ... rc=0": a run finished after the kills; no
# "LZBT ROTATE leftover": no rotation state remained. The states themselves are judged on the host below.
vm_assert_has "$n" '^LZBT SCRIPT'
vm_assert_lacks "$n" '^LZBT ROTATE leftover'
rotate_fetch "$w"

# The invariant, state by state; and each state told as old/new: which db certificates the firmware
# held, which key the bundle had, which keys signed the ESP's images.
vm_assert_has "$n" '^LZBT CRASHLOOP runs=[0-9]+ states=[0-9]+ rc=0$'
states=$(vm_log_value "$n" CRASHLOOP | sed 's/.*states=\([0-9]*\) .*/\1/')
((states >= 8)) || vm_fail "$n" "only $states states: the crash hooks did not fire"
old=$VM_PKI/keys/db/db.pem new=$w/out/lzbt-test/db.pem
which() { # PEM: old, new or other
	local der
	der=$(openssl x509 -in "$1" -outform DER | sha256sum)
	if [[ $der == "$(openssl x509 -in "$old" -outform DER | sha256sum)" ]]; then echo old
	elif [[ $der == "$(openssl x509 -in "$new" -outform DER | sha256sum)" ]]; then echo new
	else echo other; fi
}
for ((i = 0; i <= states; i++)); do
	s=$w/out/lzbt-test/s$i signers='' held=''
	tail -c +5 "$s/db.var" >"$s/db.esl"
	sig-list-to-certs "$s/db.esl" "$s/cert" >/dev/null
	for der in "$s"/cert-*.der; do
		openssl x509 -inform DER -in "$der" -out "${der%.der}.pem"
		held+=" $(which "${der%.der}.pem")"
	done
	for f in "$s"/*.image; do
		ok=0
		for pem in "$s"/cert-*.pem; do
			if sbverify --cert "$pem" "$f" >/dev/null 2>&1; then ok=1 && signers+=" $(which "$pem")" && break; fi
		done
		((ok)) || vm_fail "$n" "state $i: ${f##*/} verifies with nothing that db holds:$held"
	done
	echo "state $i: db holds$held; the bundle's db key is $(which "$s/bundle-db.pem"); images signed by" \
		"$(tr ' ' '\n' <<<"$signers" | sort -u | xargs)"
done

# The end: db and KEK hold only the new certificates.
guid=$(<"$VM_PKI/GUID")
for k in db KEK; do
	cert-to-efi-sig-list -g "$guid" "$w/out/lzbt-test/$k.pem" "$w/new-$k.esl"
	{ printf '\x27\x00\x00\x00'; cat "$w/new-$k.esl"; } | cmp -s - "$w/out/lzbt-test/$k-end.var" ||
		vm_fail "$n" "$k does not hold just the new certificate"
done
echo "$(vm_log_value "$n" CRASHLOOP): every state bootable"

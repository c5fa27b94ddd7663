#!/usr/bin/env bash
# Install never bricks and never drops the entry the user needs (issue 11), one scenario each, with a
# fake efivarfs: an untrusted db key is refused with the ESP unchanged; the booted entry survives GC
# with a bumped counter and a lower-cased id; LoaderEntryDefault is honoured; rollback; broken old
# generations are skipped; '+' and capitals in specialisation names are idempotent; GC takes only our
# names; a foreign removable loader stays. Which entry systemd-boot picks from loader.conf's glob is
# judged with Python's fnmatch, not with our model. Every scenario runs; the failures are listed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOADER=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
DB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
V=$T/efivars

fresh() { # a new ESP, no variables, the generations as made
	local g
	rm -rf "$T/esp" "$V" && mkdir -p "$T/esp" "$V"
	for g in 1 2 3 4; do cp "$T/boot$g.json" "$T/store/top$g-nixos-system/boot.json"; done
}
efivar_string() { # NAME GUID TEXT: a UTF-16LE string variable, as systemd-boot writes them
	{ printf '\x06\x00\x00\x00'; printf '%s' "$3" | iconv -t UTF-16LE; printf '\0\0'; } >"$V/$1-$2"
}
secure_boot() { # SECURE_BOOT SETUP_MODE (0 or 1)
	printf "\\x06\\x00\\x00\\x00\\x0$1" >"$V/SecureBoot-$GLOBAL"
	printf "\\x06\\x00\\x00\\x00\\x0$2" >"$V/SetupMode-$GLOBAL"
}
set_db() { # CERT.pem...: db holds these certificates (efitools' cert-to-efi-sig-list)
	local c i=0
	{
		printf '\x27\x00\x00\x00'
		for c; do
			cert-to-efi-sig-list -g "$(cat /proc/sys/kernel/random/uuid)" "$c" "$T/db$i.esl" >/dev/null
			cat "$T/db$i.esl"
			i=$((i + 1))
		done
	} >"$V/db-$DB"
}
entry() { # N [SPECIALISATION]: the file name of that entry in EFI/Linux
	if [[ -n ${2:-} ]]; then
		(cd "$T/esp/EFI/Linux" && ls | grep -E "^nixos-generation-$1-specialisation-$2-[a-z2-7]{52}(\+[0-9-]+)?\.efi$")
	else
		(cd "$T/esp/EFI/Linux" && ls | grep -E "^nixos-generation-$1-[a-z2-7]{52}(\+[0-9-]+)?\.efi$")
	fi
}
list_default() { # the entry `list --json` says systemd-boot boots next
	lzbt --json=short list | "$PY" -c 'import json,sys; print(*[e["id"] for e in json.load(sys.stdin) if e["isDefault"]])'
}
conf_default() { # the entry loader.conf's default glob selects, judged by Python's fnmatch: the
	# first match in systemd-boot's order; we check there is exactly one match, so order does not matter
	"$PY" - "$T/esp" <<'PY'
import fnmatch, os, sys
esp = sys.argv[1]
pattern = [l.split(None, 1)[1].strip() for l in open(os.path.join(esp, "loader/loader.conf")) if l.startswith("default ")][0]
hits = [f for f in sorted(os.listdir(os.path.join(esp, "EFI/Linux"))) if fnmatch.fnmatchcase(f.lower(), pattern.lower())]
print(hits[0] if len(hits) == 1 else "AMBIGUOUS:" + ",".join(hits))
PY
}
lower() { tr '[:upper:]' '[:lower:]'; }

for g in 1 2 3; do mk_generation $g k$g; done
mk_generation 4 k1 Docked 'A+3' 'x-specialisation-y'
for g in 1 2 3 4; do cp "$T/store/top$g-nixos-system/boot.json" "$T/boot$g.json"; done
set_secrets() { # N APPENDER
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['org.nixos.bootspec.v1']['initrdSecrets']=sys.argv[2]; json.dump(d, open(sys.argv[1],'w'))" \
		"$T/store/top$1-nixos-system/boot.json" "$2"
}

scenario_untrusted_key() {
	fresh
	mk_pki "$T/other" other
	secure_boot 1 0
	set_db "$T/pki/keys/db/db.pem"
	install_gens 1 || fail "trusted bundle refused"
	esp_snapshot >"$T/before"
	rc=0
	"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/other" --stub="$LANZABOOTE_STUB" --no-variables install \
		"$T"/profiles/system-{1,2}-link 2>"$T/err" || rc=$?
	[[ $rc == 1 ]] || fail "untrusted bundle: exit $rc"
	[[ $(wc -l <"$T/err") == 1 ]] && grep -q "does not trust /CN=other db" "$T/err" && grep -q "db holds: /CN=lzbt test db" "$T/err" ||
		fail "message: $(cat "$T/err")"
	esp_snapshot >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "untrusted bundle changed the ESP"
	"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/other" status | grep -q 'db trust: NOT TRUSTED' || fail "status is silent"
	"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/other" verify 2>"$T/err" && fail "verify passes an untrusted bundle"
	grep -q 'does not trust' "$T/err" || fail "verify: $(cat "$T/err")"
	"$LANZATOOL" -q --esp-path="$T/esp" --pki-bundle="$T/other" --stub="$LANZABOOTE_STUB" --no-variables \
		--allow-untrusted-key install "$T"/profiles/system-1-link 2>/dev/null || fail "--allow-untrusted-key refused"
	# A db holding an issuer of the bundle's certificate trusts it (EDK2: any certificate in the chain).
	mkdir -p "$T/chained/keys/db" && cp -r "$T/pki/keys/PK" "$T/pki/keys/KEK" "$T/pki/GUID" "$T/chained/"
	mkdir -p "$T/chained/keys" && mv "$T/chained/PK" "$T/chained/KEK" "$T/chained/keys/"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=lzbt test CA/" -keyout "$T/ca.key" \
		-out "$T/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=lzbt chained db/" -keyout "$T/chained/keys/db/db.key" \
		-out "$T/db.csr" 2>/dev/null
	openssl x509 -req -in "$T/db.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 3650 \
		-out "$T/chained/keys/db/db.pem" 2>/dev/null
	set_db "$T/ca.pem"
	"$LANZATOOL" -q --esp-path="$T/esp" --pki-bundle="$T/chained" --stub="$LANZABOOTE_STUB" --no-variables \
		install "$T"/profiles/system-1-link || fail "a bundle whose issuer db holds was refused"
	fresh
	secure_boot 1 1 # setup mode: nothing is enforced
	set_db "$T/pki/keys/db/db.pem"
	"$LANZATOOL" -q --esp-path="$T/esp" --pki-bundle="$T/other" --stub="$LANZABOOTE_STUB" --no-variables \
		install "$T"/profiles/system-1-link || fail "refused in setup mode"
}

scenario_booted_counter() {
	fresh
	lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{3,4}-link
	local f id
	f=$(entry 4 Docked)
	[[ $f == *+3.efi ]] || fail "no counter: $f"
	# systemd-boot booted it: the id it exported is lower-cased and has the counter of menu time;
	# then it renamed the file +2-1.
	id=$(lower <<<"$f")
	mv "$T/esp/EFI/Linux/$f" "$T/esp/EFI/Linux/${f%+3.efi}+2-1.efi"
	efivar_string LoaderEntrySelected $LOADER "$id"
	mk_generation 5 k2
	lzbt -q --no-variables --boot-counting=3 --configuration-limit=1 install "$T"/profiles/system-{3,4,5}-link
	[[ -f $T/esp/EFI/Linux/${f%+3.efi}+2-1.efi ]] || fail "the booted entry was collected: $(ls "$T/esp/EFI/Linux")"
	lzbt --json=short list | "$PY" -c 'import json,sys; b=[e["id"] for e in json.load(sys.stdin) if e["isSelected"]]; sys.exit(0 if b==[sys.argv[1]] else 1)' \
		"${f%+3.efi}+2-1.efi" || fail "list does not mark the booted entry"
	[[ -z $(entry 3) ]] || fail "limit 1 kept generation 3"
	check_esp || fail "invariant"
	# LoaderBootCountPath (the path after systemd-boot's rename) alone names it too.
	rm "$V/LoaderEntrySelected-$LOADER"
	efivar_string LoaderBootCountPath $LOADER "\\EFI\\Linux\\${f%+3.efi}+2-1.efi"
	lzbt -q --no-variables --boot-counting=3 --configuration-limit=1 install "$T"/profiles/system-5-link
	[[ -f $T/esp/EFI/Linux/${f%+3.efi}+2-1.efi ]] || fail "LoaderBootCountPath's entry was collected"
	# A new stub for the booted entry (same generation, other bytes) is written beside it.
	printf x >>"$T/esp/EFI/Linux/${f%+3.efi}+2-1.efi"
	lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{4,5}-link
	[[ -f $T/esp/EFI/Linux/${f%+3.efi}+2-1.efi && -f $T/esp/EFI/Linux/$f ]] ||
		fail "the booted entry was replaced: $(ls "$T/esp/EFI/Linux")"
	rm "$V/LoaderBootCountPath-$LOADER"
	lzbt -q --no-variables --boot-counting=3 --configuration-limit=1 install "$T"/profiles/system-5-link
	[[ ! -f $T/esp/EFI/Linux/${f%+3.efi}+2-1.efi ]] || fail "an entry nobody booted was kept"
}

scenario_newest_blessed() {
	fresh
	lzbt -q --no-variables --boot-counting=3 install "$T"/profiles/system-{1,2}-link
	local one
	one=$(entry 1)
	mv "$T/esp/EFI/Linux/$one" "$T/esp/EFI/Linux/${one%+3.efi}.efi" # systemd-bless-boot blessed it
	lzbt -q --no-variables --boot-counting=3 --configuration-limit=1 install "$T"/profiles/system-{1,2,3}-link
	[[ -f $T/esp/EFI/Linux/${one%+3.efi}.efi ]] || fail "the newest blessed entry was collected"
	[[ -z $(entry 2) ]] || fail "limit 1 kept the unblessed generation 2"
}

scenario_loader_entry_default() {
	fresh
	install_gens 1 2 3
	local one
	one=$(entry 1)
	efivar_string LoaderEntryDefault $LOADER "$one" # bootctl set-default
	[[ $(list_default) == "$one" ]] || fail "list default $(list_default), LoaderEntryDefault $one"
	lzbt -q --no-variables --configuration-limit=1 install "$T"/profiles/system-{1,2,3}-link
	[[ -f $T/esp/EFI/Linux/$one ]] || fail "LoaderEntryDefault's entry was collected"
	[[ -z $(entry 2) ]] || fail "limit 1 kept generation 2"
}

scenario_rollback() {
	fresh
	install_gens 1 2 3
	lzbt -q --no-variables --timeout=0 --configuration-limit=1 --default-generation="$T/profiles/system-2-link" \
		install "$T"/profiles/system-{1,2,3}-link || fail "--default-generation failed"
	[[ $(conf_default) == "$(entry 2)" ]] || fail "loader.conf selects $(conf_default), not generation 2"
	[[ $(list_default) == "$(entry 2)" ]] || fail "list default $(list_default)"
	[[ -n $(entry 3) && -z $(entry 1) ]] || fail "entries: $(ls "$T/esp/EFI/Linux")"
	# The toplevel names it too (what the NixOS install hook has), with specialisations around.
	lzbt -q --no-variables --timeout=0 --default-generation="$T/store/top4-nixos-system" install \
		"$T"/profiles/system-{3,4}-link || fail "--default-generation=TOPLEVEL failed"
	[[ $(conf_default) == "$(entry 4)" ]] || fail "loader.conf selects $(conf_default), not generation 4"
	[[ $(list_default) == "$(entry 4)" ]] || fail "list default $(list_default)"
	lzbt -q --no-variables --default-generation="$T/profiles/system-9-link" install "$T"/profiles/system-{3,4}-link \
		2>/dev/null && fail "a default generation that was not given was accepted"
	true
}

scenario_broken_old() {
	fresh
	install_gens 1 2 3
	local one
	one=$(entry 1)
	echo '{' >"$T/store/top1-nixos-system/boot.json"
	# Generation 2 needs a new initrd (its entry is gone), and its secrets appender fails.
	rm "$T/esp/EFI/Linux/$(entry 2)"
	printf '#!/bin/sh\nexit 1\n' >"$T/store/fail-secrets" && chmod +x "$T/store/fail-secrets"
	set_secrets 2 "$T/store/fail-secrets"
	lzbt --no-variables install "$T"/profiles/system-{1,2,3}-link 2>"$T/err" ||
		fail "broken old generations block the install: $(cat "$T/err")"
	grep -q "system-1-link: skipped" "$T/err" && grep -q "system-2-link: skipped" "$T/err" || fail "no warning: $(cat "$T/err")"
	[[ -f $T/esp/EFI/Linux/$one ]] || fail "a skipped generation lost its entry"
	check_esp || fail "invariant"
	# The newest broken: fatal, nothing changes.
	echo '{' >"$T/store/top3-nixos-system/boot.json"
	esp_snapshot >"$T/before"
	lzbt --no-variables install "$T"/profiles/system-{1,2,3}-link 2>/dev/null && fail "broken newest accepted"
	esp_snapshot >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "the ESP changed"
	# An appender runs only when its generation needs a new initrd.
	fresh
	printf '#!/bin/sh\nprintf S >>"$1"\necho run >>"%s"\n' "$T/appender-runs" >"$T/store/ok-secrets"
	chmod +x "$T/store/ok-secrets"
	set_secrets 2 "$T/store/ok-secrets"
	install_gens 2 3
	install_gens 2 3
	[[ $(wc -l <"$T/appender-runs") == 1 ]] || fail "the appender ran $(wc -l <"$T/appender-runs") times for one initrd"
	check_esp || fail "invariant"
}

scenario_idempotent_names() {
	local opts
	for opts in --boot-counting=0 --boot-counting=2; do
		fresh
		lzbt -q --no-variables --timeout=0 $opts install "$T"/profiles/system-{3,4}-link
		[[ -n $(entry 4 'A\+3') && -n $(entry 4 Docked) && -n $(entry 4 x-specialisation-y) ]] ||
			fail "$opts: entries: $(ls "$T/esp/EFI/Linux")"
		esp_snapshot >"$T/before"
		strace -f -qq -o "$T/strace" -e trace=openat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat \
			"$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" -q --no-variables \
			--timeout=0 $opts install "$T"/profiles/system-{3,4}-link
		esp_snapshot >"$T/after"
		cmp -s "$T/before" "$T/after" || fail "$opts: the second run changed the ESP"
		! grep -E 'O_WRONLY|O_RDWR|O_CREAT|rename|unlink|mkdir' "$T/strace" | grep -v ENOENT >"$T/writes" ||
			fail "$opts: the second run wrote: $(head -5 "$T/writes")"
	done
}

scenario_gc_scope() {
	fresh
	install_gens 1 2 3
	cp "$T/esp/EFI/Linux/$(entry 1)" "$T/esp/EFI/Linux/nixos-rescue.efi"
	echo hand-made >"$T/esp/EFI/nixos/memtest86.efi"
	lzbt -q --no-variables --configuration-limit=1 install "$T"/profiles/system-{1,2,3}-link
	[[ -f $T/esp/EFI/Linux/nixos-rescue.efi && -f $T/esp/EFI/nixos/memtest86.efi ]] || fail "GC took what we did not make"
	[[ -z $(entry 1) ]] || fail "limit 1 kept generation 1"
	check_esp || fail "invariant (the rescue entry's payloads)"
	lzbt -q remove
	[[ -f $T/esp/EFI/Linux/nixos-rescue.efi && -f $T/esp/EFI/nixos/memtest86.efi ]] || fail "remove took what we did not make"
}

scenario_foreign_removable() {
	fresh
	mkdir -p "$T/esp/EFI/BOOT"
	cp /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$T/esp/EFI/BOOT/BOOTX64.EFI" # a PE that is no systemd-boot
	install_gens 1
	cmp -s /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$T/esp/EFI/BOOT/BOOTX64.EFI" || fail "foreign BOOTX64.EFI replaced"
	sbverify --cert "$T/pki/keys/db/db.pem" "$T/esp/EFI/systemd/systemd-bootx64.efi" >/dev/null 2>&1 || fail "systemd-boot not installed"
	lzbt -q --no-variables --replace-removable install "$T"/profiles/system-1-link
	sbverify --cert "$T/pki/keys/db/db.pem" "$T/esp/EFI/BOOT/BOOTX64.EFI" >/dev/null 2>&1 || fail "--replace-removable did not replace it"
}

failed=()
for s in untrusted_key booted_counter newest_blessed loader_entry_default rollback broken_old idempotent_names gc_scope foreign_removable; do
	if (scenario_$s); then echo "ok $s"; else failed+=("$s"); fi
done
((${#failed[@]} == 0)) || { echo "FAIL: ${failed[*]}" >&2; exit 1; }
echo ok

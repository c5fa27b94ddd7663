#!/usr/bin/env bash
# One command-line convention for every verb: a usage error (unknown option or command, missing or bad
# value, missing required option, wrong number of arguments) exits 2 with one line on stderr that says
# what was wrong and where to look, writes nothing to stdout and changes nothing; "VERB --help" exits 0
# and lists that verb's own options.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mk_pki "$T/pki"
mk_generation 1
install_gens 1
esp_snapshot >"$T/before"

# usage ARGS...: lanzatool ARGS exits 2, prints one "lanzatool: …, see "lanzatool [VERB ]--help"" line on
# stderr (naming $EXPECT) and nothing on stdout. The ESP is compared once, at the end.
usage() {
	local rc=0 err
	"$LANZATOOL" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	mapfile -t err <"$T/err"
	((rc == 2)) || fail "lanzatool $*: exit $rc, not 2 (stderr: ${err[*]})"
	[[ ! -s $T/out ]] || fail "lanzatool $*: a usage error printed on stdout: $(head -c 300 "$T/out")"
	((${#err[@]} == 1)) || fail "lanzatool $*: not one line on stderr: ${err[*]}"
	[[ ${err[0]} =~ ^lanzatool:\ .*,\ see\ \"lanzatool\ ([a-z-]+\ )?--help\"$ ]] ||
		fail "lanzatool $*: the message does not say where to look: ${err[0]}"
	[[ ${err[0]} == *"${EXPECT:-}"* ]] || fail "lanzatool $*: the message does not name \"$EXPECT\": ${err[0]}"
}

ESP=--esp-path=$T/esp
PKI=--pki-bundle=$T/pki

# The verbs, as the general --help lists them.
"$LANZATOOL" --help >"$T/help" || fail "--help: exit $?"
mapfile -t verbs < <(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' "$T/help")
((${#verbs[@]} >= 11)) || fail "--help lists ${#verbs[@]} commands: ${verbs[*]}"

# Every verb: an unknown option, a bad value, a missing value (options are parsed before the verb
# runs, so the other kinds are checked once below).
for v in "${verbs[@]}"; do
	EXPECT=--no-such-option usage "$ESP" --no-such-option "$v"
	EXPECT="--json: \"xml\"" usage "$v" --json=xml
	EXPECT=--esp-path usage "$v" --esp-path
	# Its own help: exit 0, on stdout, naming the verb, listing options.
	"$LANZATOOL" "$v" --help >"$T/vhelp" 2>"$T/err" || fail "$v --help: exit $?"
	[[ ! -s $T/err ]] || fail "$v --help wrote on stderr: $(cat "$T/err")"
	head -n 1 "$T/vhelp" | grep -qE "^lanzatool \[OPTIONS\.\.\.\] $v( |$)" ||
		fail "$v --help does not begin with its synopsis: $(head -n 1 "$T/vhelp")"
	grep -q -- '^  -h --help' "$T/vhelp" || fail "$v --help lists no options"
	cmp -s "$T/vhelp" "$T/help" && fail "$v --help is the general help"
	cp "$T/vhelp" "$T/help-$v"
	# --help anywhere on the line, before or after the verb.
	"$LANZATOOL" --help "$v" | cmp -s - "$T/vhelp" || fail "--help $v differs from $v --help"
done

# Each verb lists its own options and not another's.
has_option() { # VERB OPTION: VERB --help (saved by the loop above) lists OPTION
	grep -qE -- "^  (-. |   )$2([=[ ]|$)" "$T/help-$1"
}
while read -r v yes no; do
	for o in ${yes//,/ }; do has_option "$v" "$o" || fail "$v --help lacks $o"; done
	for o in ${no//,/ }; do has_option "$v" "$o" && fail "$v --help lists $o, which it does not take"; done
done <<'EOF'
install            --esp-path,--pki-bundle,--stub,--configuration-limit,--dry-run,--auto-enroll  --output,--kek,--linux,--export-auth
list               --esp-path,--pki-bundle,--json                        --stub,--output,--dry-run,--kek
verify             --esp-path,--pki-bundle                               --stub,--output,--configuration-limit
status             --esp-path,--pki-bundle,--json                        --stub,--dry-run
remove             --esp-path,--pki-bundle,--dry-run                     --stub,--configuration-limit
create-keys        --pki-bundle,--key-size                               --esp-path,--stub,--json
enroll-keys        --pki-bundle,--export-auth,--microsoft,--append       --esp-path,--stub
list-enrolled-keys --json                                                --esp-path,--pki-bundle
sign               --pki-bundle,--output,--dry-run                       --esp-path,--stub,--json
rotate-keys        --esp-path,--pki-bundle,--kek,--new-db-key,--stub     --dry-run,--output
measure            --esp-path,--pcr,--bank,--phase,--linux,--json        --pki-bundle,--stub,--output
EOF

EXPECT=-Z usage list -Z
EXPECT=--configuration-limit usage install --configuration-limit=ten
EXPECT=--key-size usage create-keys --key-size=1000
EXPECT=--help usage sign --help --no-such-option

# Unknown or missing command.
EXPECT='unknown command "frobnicate"' usage frobnicate
EXPECT='unknown command "frobnicate"' usage --help frobnicate
EXPECT='no command' usage "$ESP"

# Required --pki-bundle: every verb that signs or reads keys says so, and how to get one.
for v in install verify sign rotate-keys create-keys enroll-keys; do
	args=()
	[[ $v == install || $v == rotate-keys ]] && args=("$T/profiles/system-1-link")
	[[ $v == sign ]] && args=("$T/esp/EFI/BOOT/BOOTX64.EFI")
	EXPECT="$v needs --pki-bundle=DIR" usage "$ESP" --stub="$LANZABOOTE_STUB" "$v" "${args[@]}"
done

# Wrong number of arguments.
for a in "install" "list x" "verify x" "status x" "remove x" "sign" "sign a b" "rotate-keys" "measure a b" \
	"create-keys x" "enroll-keys x" "list-enrolled-keys x"; do
	# shellcheck disable=SC2086 # the verb and its arguments
	EXPECT="wrong number of arguments" usage "$ESP" "$PKI" $a
done

# Bad values of each kind of option.
EXPECT='--editor: "maybe"' usage "$ESP" "$PKI" install --editor=maybe "$T/profiles/system-1-link"
EXPECT='--boot-counting: "-1"' usage "$ESP" "$PKI" install --boot-counting=-1 "$T/profiles/system-1-link"
EXPECT='--pcr: "7"' usage measure --pcr=7 "$T/esp/EFI/BOOT/BOOTX64.EFI"
EXPECT='--bank: "md5"' usage measure --bank=md5 "$T/esp/EFI/BOOT/BOOTX64.EFI"
EXPECT='--key-size: "1024"' usage "$PKI" create-keys --key-size=1024
EXPECT='--dry-run' usage "$ESP" --dry-run=yes list
EXPECT='--timeout: "menu-shown"' usage "$ESP" "$PKI" --timeout=menu-shown install "$T/profiles/system-1-link"
EXPECT='--timeout: "-1"' usage "$ESP" "$PKI" --timeout=-1 install "$T/profiles/system-1-link"
EXPECT='--console-mode: "wide"' usage "$ESP" "$PKI" --console-mode=wide install "$T/profiles/system-1-link"

# A verb's own checks of what its options mean together.
EXPECT='--dry-run' usage "$ESP" "$PKI" --dry-run rotate-keys "$T/profiles/system-1-link"
EXPECT='--pcr-private-key' usage measure --pcr-public-key="$T/pki/keys/db/db.pem" --linux=/dev/null
EXPECT='either a STUB or section files' usage measure
EXPECT='--pcr=4 takes a STUB' usage measure --pcr=4 --linux=/dev/null

# More ESPs than the verb takes.
EXPECT='takes one --esp-path' usage "$ESP" --esp-path="$T/esp" status

esp_snapshot | cmp -s - "$T/before" || fail "a usage error changed the ESP"

# loader.conf's words for the timeout and the console mode are taken and written as they are.
for t in menu-force menu-hidden menu-disabled 7; do
	lzbt -q --no-variables --timeout=$t --console-mode=max install "$T/profiles/system-1-link" || fail "--timeout=$t: exit $?"
	grep -qx "timeout $t" "$T/esp/loader/loader.conf" || fail "--timeout=$t: $(cat "$T/esp/loader/loader.conf")"
	grep -qx "console-mode max" "$T/esp/loader/loader.conf" || fail "--console-mode=max: $(cat "$T/esp/loader/loader.conf")"
done

# remove --dry-run names every file remove would delete, and deletes none.
esp_snapshot >"$T/before"
lzbt --dry-run remove >"$T/plan" 2>"$T/err" || fail "remove --dry-run: exit $?: $(cat "$T/err")"
esp_snapshot | cmp -s - "$T/before" || fail "remove --dry-run changed the ESP"
(cd "$T/esp" && find EFI/Linux EFI/nixos EFI/systemd EFI/BOOT loader/loader.conf -type f | sort) |
	sed "s|^|would remove $T/esp/|" >"$T/expected"
sort "$T/plan" | diff -u "$T/expected" - >&2 || fail "remove --dry-run does not list exactly the files on the ESP"
grep -q "would remove 1 entries" "$T/err" || fail "remove --dry-run: $(cat "$T/err")"

# A plain directory as ESP: refused without --no-esp-checks, taken with it and a warning.
rc=0
env -u LANZATOOL_RELAX_ESP_CHECKS "$LANZATOOL" "$ESP" list >/dev/null 2>"$T/err" || rc=$?
((rc == 1)) || fail "list of a directory ESP without --no-esp-checks: exit $rc"
env -u LANZATOOL_RELAX_ESP_CHECKS "$LANZATOOL" "$ESP" --no-esp-checks list >"$T/out" 2>"$T/err" ||
	fail "list --no-esp-checks: exit $?: $(cat "$T/err")"
grep -q "warning: --no-esp-checks: $T/esp is used as the ESP without checking" "$T/err" ||
	fail "list --no-esp-checks gives no warning: $(cat "$T/err")"
grep -q 'nixos-generation-1-' "$T/out" || fail "list --no-esp-checks: $(cat "$T/out")"

# measure of an installed stub without --esp-path says that it needs one (unless this host has an ESP
# where lanzatool looks for one).
if ! mountpoint -q /efi 2>/dev/null && ! mountpoint -q /boot 2>/dev/null && ! mountpoint -q /boot/efi 2>/dev/null; then
	stub=$(ls "$T"/esp/EFI/Linux/nixos-generation-1-*.efi)
	rc=0
	env -u LANZATOOL_RELAX_ESP_CHECKS "$LANZATOOL" measure "$stub" >/dev/null 2>"$T/err" || rc=$?
	((rc == 1)) && grep -q "$stub pins its kernel .* give --esp-path=DIR" "$T/err" ||
		fail "measure STUB without an ESP: exit $rc: $(cat "$T/err")"
fi

# Run from the build tree, lanzatool finds the stub next to it: no --stub, no $LANZABOOTE_STUB.
if [[ -f $(dirname "$LANZATOOL")/../boot/efi/lanzabootx64.efi.stub ]]; then
	env -u LANZABOOTE_STUB "$LANZATOOL" -q "$ESP" "$PKI" --no-variables install "$T/profiles/system-1-link" 2>"$T/err" ||
		fail "install from the build tree without --stub: $(cat "$T/err")"
fi

# Not a usage error: a failure exits 1 (an ESP directory that does not exist).
rc=0
"$LANZATOOL" --esp-path="$T/nothing" list >/dev/null 2>&1 || rc=$?
((rc == 1)) || fail "list of a missing ESP: exit $rc, not 1"

echo "PASS: usage errors of ${#verbs[@]} verbs exit 2 with one line, each verb's --help lists its own options"

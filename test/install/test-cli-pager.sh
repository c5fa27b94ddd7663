#!/bin/bash
# --no-pager and the pager of list, list-enrolled-keys and verify: on a terminal (script(1) gives one)
# the output goes through $SYSTEMD_PAGER, else $PAGER; not with --no-pager, --json=short, SYSTEMD_PAGER=cat
# or empty, when stdout is not a terminal, nor for other verbs. A fake pager records that it ran and what
# it read.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/install/lib.sh
source "$HERE/lib.sh"
command -v script >/dev/null || fail "script (bsdutils) missing"

mk_generation 1 k1
install_gens 1
cat >"$T/pager" <<PAGER
#!/bin/sh
echo called >>"$T/pager.log"
cat >>"$T/pager.log"
PAGER
chmod +x "$T/pager"
cat >"$T/lzbt" <<CMD
#!/bin/sh
exec "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" "\$@"
CMD
chmod +x "$T/lzbt"

on_tty() { # ENV... -- ARGS...: lanzatool ARGS on a terminal with the environment ENV; was the pager called?
	local envs=()
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	rm -f "$T/pager.log"
	env -u SYSTEMD_PAGER -u PAGER "${envs[@]}" script -qec "$T/lzbt $*" /dev/null >"$T/tty.out" 2>&1 </dev/null || true
	[[ -f $T/pager.log ]]
}
called() { on_tty "$@" || { cat "$T/tty.out"; fail "pager not called: $*"; }; }
not_called() { ! on_tty "$@" || fail "pager called: $*: $(cat "$T/pager.log")"; }

called SYSTEMD_PAGER="$T/pager" -- list
grep -q 'nixos-generation-1' "$T/pager.log" || fail "list: the pager did not get the list: $(cat "$T/pager.log")"
called SYSTEMD_PAGER="$T/pager" -- verify
called PAGER="$T/pager" -- list
called SYSTEMD_PAGER="$T/pager" PAGER=cat -- list
called SYSTEMD_PAGER="$T/pager" -- --json=pretty list
called SYSTEMD_PAGER="$T/pager" -- list-enrolled-keys
not_called SYSTEMD_PAGER="$T/pager" -- --no-pager list
grep -q 'nixos-generation-1' "$T/tty.out" || fail "list --no-pager: no list on the terminal: $(cat "$T/tty.out")"
not_called SYSTEMD_PAGER="$T/pager" -- --no-pager verify
not_called SYSTEMD_PAGER="$T/pager" -- --json=short list
not_called SYSTEMD_PAGER=cat PAGER="$T/pager" -- list
not_called SYSTEMD_PAGER= PAGER="$T/pager" -- list
not_called SYSTEMD_PAGER="$T/pager" -- status
# Not a terminal: never.
rm -f "$T/pager.log"
SYSTEMD_PAGER="$T/pager" "$T/lzbt" list >"$T/out" 2>&1 || fail "list to a file failed"
[[ ! -f $T/pager.log ]] || fail "pager called with stdout a file"
grep -q 'nixos-generation-1' "$T/out" || fail "list to a file: $(cat "$T/out")"
echo "PASS: the pager runs on a terminal only, and never with --no-pager, --json=short or SYSTEMD_PAGER=cat/empty"

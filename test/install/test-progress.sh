#!/bin/bash
# install's progress line (src/lanzatool/progress.h): on a terminal (script(1) gives it one) an install
# that writes more than a few MB shows "lanzatool: writing …% …/…, N/M files" rewritten with "\r" and
# cleared at the end; nothing of it with -q, nor when stderr is a pipe.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/install/lib.sh
source "$HERE/lib.sh"

mk_kernel "$T/big/bzImage" $((6 << 20)) big-kernel
mk_file "$T/big/initrd" $((6 << 20)) big-initrd
KERNEL=$T/big/bzImage INITRD=$T/big/initrd mk_generation 1
cmd="'$LANZATOOL' --esp-path='$T/esp' --pki-bundle='$T/pki' --stub='$LANZABOOTE_STUB' --no-variables --state-dir="
gen=$T/profiles/system-1-link

# A terminal: the line, rewritten in place, and cleared as the last thing printed before the summary.
script -qec "$cmd install '$gen'" /dev/null >"$T/tty"
grep -aq $'\r\e\\[Klanzatool: writing *[0-9]*% [0-9.]*M/[0-9.]*M, [0-9]*/[0-9]* files' "$T/tty" ||
	{ od -c "$T/tty" | head -20; fail "no progress line on a terminal"; }
grep -aq $'\r\e\\[Klanzatool: writing 100% 12.1M/12.1M, 3/3 files' "$T/tty" ||
	{ od -c "$T/tty" | head -20; fail "the progress line did not reach 12.1M and 3/3 files"; }
grep -aq $'files\r\e\\[Klanzatool: .*entries installed' "$T/tty" ||
	{ od -c "$T/tty" | tail -20; fail "the progress line was not cleared before the summary"; }

# -q on a terminal: nothing but errors.
rm -rf "$T/esp" && mkdir "$T/esp"
script -qec "$cmd -q install '$gen'" /dev/null >"$T/tty-q"
[[ ! -s $T/tty-q ]] || { od -c "$T/tty-q" | head; fail "-q printed on a terminal"; }

# Not a terminal: the summary only, no carriage return.
rm -rf "$T/esp" && mkdir "$T/esp"
eval "$cmd install '$gen'" 2>&1 | cat >"$T/pipe"
grep -q 'entries installed' "$T/pipe" || fail "no summary through a pipe"
if grep -aq $'\r' "$T/pipe"; then od -c "$T/pipe" | head; fail "progress through a pipe"; fi
echo PASS

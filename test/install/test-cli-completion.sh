#!/usr/bin/env bash
# The shell completions: bash loads completions/lanzatool.bash and "complete -p lanzatool" shows it;
# completing commands, a command's own options and an option's value gives what lanzatool's --help
# lists. The zsh one at least parses, where zsh is installed.
set -euo pipefail
LANZATOOL=${LANZATOOL:?LANZATOOL must name the lanzatool binary}
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../completions" && pwd)
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# complete WORD...: the candidates bash offers for the last word, one line each
complete_words() {
	bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_lanzatool; printf "%s\n" "${COMPREPLY[@]}"' _ "$DIR/lanzatool.bash" "$LANZATOOL" "$@"
}

bash --norc --noprofile -c 'source "$1" && complete -p lanzatool' _ "$DIR/lanzatool.bash" >"${TMPDIR:-/tmp}/lzbt-complete.$$" ||
	fail "bash cannot load $DIR/lanzatool.bash"
grep -qx 'complete -F _lanzatool lanzatool' "${TMPDIR:-/tmp}/lzbt-complete.$$" ||
	fail "complete -p lanzatool: $(cat "${TMPDIR:-/tmp}/lzbt-complete.$$")"
rm -f "${TMPDIR:-/tmp}/lzbt-complete.$$"

[[ $(complete_words "") == "$("$LANZATOOL" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')" ]] ||
	fail "the commands offered are not those of --help: $(complete_words "" | tr '\n' ' ')"
[[ $(complete_words "rot") == rotate-keys ]] || fail "\"rot\" completes to: $(complete_words "rot")"
[[ $(complete_words sign --o) == --output= ]] || fail "sign --o: $(complete_words sign --o)"
[[ $(complete_words --esp-path = /tmp list --js) == --json= ]] ||
	fail "list --js (after --esp-path=/tmp): $(complete_words --esp-path = /tmp list --js)"
got=$(complete_words install --c)
grep -qx -- --configuration-limit= <<<"$got" || fail "install --c: $got"
[[ -z $(complete_words sign --c) ]] || fail "sign offers options of install: $(complete_words sign --c)"
[[ $(complete_words --esp-path = /et) == /etc ]] || fail "--esp-path=/et: $(complete_words --esp-path = /et)"

if command -v zsh >/dev/null; then
	zsh -n "$DIR/_lanzatool" || fail "zsh cannot parse $DIR/_lanzatool"
	echo "zsh: $DIR/_lanzatool parses"
else
	echo "zsh not installed: the zsh completion is not parsed"
fi
echo "PASS: bash completes commands, each command's own options and values from --help"

#!/usr/bin/env bash
# The man pages: every page in man/ renders with groff -ww (all warnings) without one warning, and
# lanzatool.8 names the same commands and, for each command, the same options as lanzatool's --help,
# in both directions (an option added to the code but not to the page fails, and the reverse).
set -euo pipefail
LANZATOOL=${LANZATOOL:?LANZATOOL must name the lanzatool binary}
MAN=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../man" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/lzbt-man.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
command -v groff >/dev/null || fail "groff missing (groff-base, in tools/deps.sh)"

pages=("$MAN"/*.[1-8])
((${#pages[@]})) || fail "no man pages in $MAN"
for page in "${pages[@]}"; do
	rc=0
	groff -ww -man -Tutf8 "$page" >"$T/out" 2>"$T/warnings" || rc=$?
	((rc == 0)) && [[ ! -s $T/warnings ]] || fail "$page: groff exit $rc: $(head -n 5 "$T/warnings")"
	[[ -s $T/out ]] || fail "$page: renders to nothing"
done

"$LANZATOOL" --help >"$T/help"
mapfile -t verbs < <(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' "$T/help")
for v in "${verbs[@]}"; do "$LANZATOOL" "$v" --help >"$T/help-$v"; done

/usr/bin/python3 - "$MAN/lanzatool.8" "$T" "${verbs[@]}" <<'PY'
import re, sys

page, tmp, verbs = sys.argv[1], sys.argv[2], sys.argv[3:]
src = open(page).read().replace("\\-", "-")
bad = []


def help_options(path):
    text = open(path).read().split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^  (?:-. |   )(--[a-z0-9-]+)", text, re.M))


def section(name):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH )" % name, src, re.M | re.S)
    if not m:
        sys.exit("FAIL: %s has no %s section" % (page, name))
    return m.group(1)


def compare(what, in_help, in_man):
    for o in sorted(in_help - in_man):
        bad.append("%s: %s is in --help, not in the man page" % (what, o))
    for o in sorted(in_man - in_help):
        bad.append("%s: %s is in the man page, not in --help" % (what, o))


per_verb = {v: help_options("%s/help-%s" % (tmp, v)) for v in verbs}
common = set.intersection(*per_verb.values())
options = section("OPTIONS")
# Every option described once in OPTIONS: the options of a .TP's first line.
described = set()
for head in re.findall(r"^\.TP\n(.*)$", options, re.M):
    described |= set(re.findall(r"--[a-z0-9-]+", head))
compare("OPTIONS", help_options(tmp + "/help"), described)
m = re.search(r"these apply to every command:\n(.*?)\.\n", options, re.S)
compare("common options", common, set(re.findall(r"--[a-z0-9-]+", m.group(1)) if m else []))

# Each command's entry in COMMANDS: ".TP" ".B VERB …", its text, and one "Options: …" line.
commands = section("COMMANDS")
entries = re.split(r"^\.TP\n\.B ", commands, flags=re.M)[1:]
in_man = {}
for e in entries:
    verb = e.split()[0]
    m = re.search(r"^Options: (.*?)\.$", e, re.M)
    if not m:
        bad.append("COMMANDS: %s has no \"Options:\" line" % verb)
        continue
    in_man[verb] = set(re.findall(r"--[a-z0-9-]+", m.group(1)))
compare("commands", set(verbs), set(in_man))
for v in verbs:
    if v in in_man:
        compare(v, per_verb[v] - common, in_man[v])
for b in bad:
    print("FAIL: lanzatool.8: " + b)
sys.exit(1 if bad else 0)
PY
echo "PASS: ${#pages[@]} man pages render without groff warnings; lanzatool.8 matches --help for ${#verbs[@]} commands"

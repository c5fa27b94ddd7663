#!/bin/bash
# install -v: one debug line per decision, naming the file and why it is kept (cached, hash match),
# written (new, changed) or removed (beyond --configuration-limit, not referenced); none of it without -v.
# The files named are checked against the ESP itself (find), not against lanzatool's own words.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/install/lib.sh
source "$HERE/lib.sh"

for n in 1 2 3; do mk_generation "$n" "k$((n % 2))"; done
GENS=("$T/profiles/system-1-link" "$T/profiles/system-2-link" "$T/profiles/system-3-link")

run() { # OPTION...: install the three generations (and more options), stderr in $T/err
	lzbt --no-variables --timeout=0 "$@" install "${GENS[@]}" >"$T/out" 2>"$T/err" ||
		{ cat "$T/err"; fail "install $* failed"; }
}
has() { # WHAT REGEX: a line of $T/err matches
	grep -qE "$2" "$T/err" || { cat "$T/err"; fail "$1: no line matching '$2'"; }
}
decisions() { grep -cE '^lanzatool: (keep|write|remove) EFI/(Linux|nixos)/[^ ]+: ' "$T/err" || true; }
esp_files() { (cd "$T/esp" && find EFI/Linux EFI/nixos -type f -name '[nki]*' | sort); }

# Cold: every payload and stub written as new, one line each.
run -v
n=$(esp_files | wc -l)
[[ $n == 7 ]] || fail "cold: expected 7 files (2 kernels, 2 distinct initrds, 3 stubs), found $n"
while read -r f; do has "cold" "^lanzatool: write $f: new"; done < <(esp_files)
[[ $(decisions) == "$n" ]] || { cat "$T/err"; fail "cold: $(decisions) decision lines for $n files"; }

# Warm: every one kept, from the cache.
run -v
while read -r f; do has "warm" "^lanzatool: keep $f: cached"; done < <(esp_files)
[[ $(decisions) == "$n" ]] || { cat "$T/err"; fail "warm: $(decisions) decision lines for $n files"; }

# Without the cache: kept by hashing the ESP's files.
run -v --state-dir=
while read -r f; do has "no cache" "^lanzatool: keep $f: hash match"; done < <(esp_files)

# A stub changed on the ESP (no cache): rewritten, said to be changed; the rest kept.
f=$(cd "$T/esp" && find EFI/Linux -name 'nixos-generation-2-*' | head -n 1)
printf '\x00' | dd of="$T/esp/$f" bs=1 seek=100 conv=notrunc status=none
run -v --state-dir=
has "changed stub" "^lanzatool: write $f: changed"
[[ $(grep -c '^lanzatool: write ' "$T/err") == 1 ]] || { cat "$T/err"; fail "changed stub: more than it was written"; }

# Without -v: not one of these lines, in any of these runs.
for o in "" "--state-dir=" "--configuration-limit=2 --dry-run"; do
	# shellcheck disable=SC2086 # o is a list of options
	run $o
	[[ $(decisions) == 0 ]] || { cat "$T/err"; fail "without -v ($o): decision lines"; }
done

# --configuration-limit=1: the stubs of generations 1 and 2 go (beyond the limit), and kernel k0 with its
# initrd (generation 2's: no stub that stays references them); the same lines in --dry-run.
gone=$(cd "$T/esp" && find EFI/Linux -name 'nixos-generation-[12]-*')
for o in --dry-run ""; do
	# shellcheck disable=SC2086
	run -v --configuration-limit=1 $o
	for f in $gone; do has "limit $o" "^lanzatool: remove $f: beyond --configuration-limit"; done
	has "limit $o" "^lanzatool: remove EFI/nixos/kernel-[^ ]+: not referenced"
	has "limit $o" "^lanzatool: remove EFI/nixos/initrd-[^ ]+: not referenced"
	[[ $(grep -c '^lanzatool: remove ' "$T/err") == 4 ]] ||
		{ cat "$T/err"; fail "limit $o: expected 4 removals (2 stubs, kernel, initrd)"; }
done
for f in $gone; do [[ ! -e $T/esp/$f ]] || fail "limit: $f still there"; done
[[ $(esp_files | wc -l) == 3 ]] || fail "limit: expected 3 files left, found $(esp_files | wc -l)"
echo "install -v: every decision logged with its reason"

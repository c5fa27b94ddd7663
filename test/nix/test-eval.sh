#!/usr/bin/env bash
# boot.lanzaboote against nixpkgs' real module system (lib.evalModules), with the nixpkgs tree in
# LANZABOOTE_TEST_NIXPKGS (only its lib/ is used; NixOS and the packages are stand-ins,
# test/nix/standins.nix): every expectation of test/nix/cases.nix, the machine configurations of
# the NixOS VM tests (nix/tests), the toplevel's drvPath, then the generated install hook run
# against three generations whose boot.json comes from the same evaluation, into two directory
# ESPs, judged by check-esp.py, sbverify and pefile, then again for a rollback to generation 2.
NIXPKGS=${LANZABOOTE_TEST_NIXPKGS:-}
if [[ -z $NIXPKGS ]]; then
	echo "SKIP: LANZABOOTE_TEST_NIXPKGS is not set (a nixpkgs tree, e.g. nix-community/nixpkgs.lib)"
	exit 77
fi
NIX_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/install/lib.sh
source "$NIX_TESTS/../install/lib.sh"
[[ -f $NIXPKGS/lib/default.nix ]] || fail "$NIXPKGS/lib/default.nix: no nixpkgs lib there (LANZABOOTE_TEST_NIXPKGS)"
command -v nix-build >/dev/null || fail "nix-build not found (Debian's nix-bin, tools/deps.sh)"
[[ -w /nix/store && -d /nix/var/nix/profiles ]] || fail "/nix/store must be writable (single-user Nix as root)"

# Single-user Nix without the binary cache; builders are /bin/sh with the host's tools.
export NIX_CONFIG=$'build-users-group =\nsubstituters =\nsandbox = false'
args=(--arg nixpkgs "$NIXPKGS" --argstr lanzatool "$LANZATOOL" --argstr stub "$LANZABOOTE_STUB"
	--argstr systemdBoot /usr/lib/systemd/boot/efi/systemd-bootx64.efi
	--argstr kernel "${LANZABOOTE_TEST_KERNEL:-}" --argstr runDir "$T")
nixeval() { nix-instantiate --eval --strict --json "$NIX_TESTS/cases.nix" "${args[@]}" -A "$@" 2>"$T/nix.log" ||
	fail "evaluating $1: $(grep -v nixbld "$T/nix.log")"; }

version=$(nixeval nixpkgsLib) || exit 1
echo "nixpkgs lib $version from $NIXPKGS"
nixeval failures >"$T/failures.json"
"$PY" - "$T/failures.json" <<'PY' || fail "module expectations"
import json, sys
f = json.load(open(sys.argv[1]))
for x in f:
    print("FAIL:", x)
sys.exit(1 if f else 0)
PY
names=$(nixeval vmTestNames) || exit 1
echo "module expectations hold; VM test definitions evaluated: $(tr -d '[]"' <<<"$names" | tr , ' ')"
nixeval drvPath | grep -qE '^"/nix/store/[a-z0-9]{32}-nixos-system-test\.drv"$' || fail "toplevel drvPath"

mapfile -t out < <(nix-build --no-out-link "$NIX_TESTS/cases.nix" "${args[@]}" -A run.toplevels -A run.hook 2>"$T/nix.log") ||
	fail "building the toplevels and the hook: $(grep -v nixbld "$T/nix.log")"
[[ ${#out[@]} == 4 ]] || fail "expected 3 toplevels and a hook, got: ${out[*]}"
hook=${out[3]}
mkdir -p "$T/profiles" "$T/esp2"
openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=extra db cert/" -keyout "$T/extra-db.key" \
	-out "$T/extra-db.pem" 2>/dev/null
for n in 1 2 3; do
	top=${out[$((n - 1))]}
	"$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1] + "/boot.json"))["org.nixos.bootspec.v1"]["toplevel"] != sys.argv[1])' "$top" ||
		fail "$top/boot.json: toplevel"
	ln -s "$top" "$T/profiles/system-$n-link"
	touch -h -d "2026-11-0$n 12:00 UTC" "$T/profiles/system-$n-link"
done
# The hook reads /nix/var/nix/profiles, as on NixOS: our profile links there, in a private mount namespace.
unshare -m sh -c 'mount --bind "$1/profiles" /nix/var/nix/profiles && exec "$2" "$3"' _ "$T" "$hook" "${out[2]}" \
	>"$T/hook.log" 2>&1 || fail "the install hook failed: $(cat "$T/hook.log")"

b32='[a-z2-7]{52}'
for esp in "$T/esp" "$T/esp2"; do
	"$PY" "$NIX_TESTS/../install/check-esp.py" "$esp" || fail "$esp: invariant"
	(cd "$esp" && find . -type f | sort) >"$T/files"
	# configurationLimit = 2: generations 2 and 3, each with its specialisation.
	for e in 2 3; do
		grep -qE "^\./EFI/Linux/nixos-generation-$e-$b32\.efi$" "$T/files" || fail "$esp: no generation $e"
		grep -qE "^\./EFI/Linux/nixos-generation-$e-specialisation-alt-$b32\.efi$" "$T/files" ||
			fail "$esp: no specialisation of generation $e"
	done
	[[ $(grep -c '^\./EFI/Linux/' "$T/files") == 4 ]] || fail "$esp: expected 4 entries: $(cat "$T/files")"
	grep -qx 'timeout 0' "$esp/loader/loader.conf" || fail "$esp/loader/loader.conf: no 'timeout 0'"
	# Switched to generation 3: its entry, not its specialisation's, is the default.
	grep -qxE "default nixos-generation-3-$b32\*" "$esp/loader/loader.conf" || fail "$esp/loader/loader.conf: default"
	grep -qx 'editor yes' "$esp/loader/loader.conf" || fail "$esp/loader/loader.conf: editor"
	grep -qx 'console-mode keep' "$esp/loader/loader.conf" || fail "$esp/loader/loader.conf: console-mode"
	grep -qx 'secure-boot-enroll force' "$esp/loader/loader.conf" || fail "$esp/loader/loader.conf: secure-boot-enroll"
	# autoEnrollKeys: the signed variable updates, db's holding our db certificate and the extra one.
	for k in PK KEK db; do [[ -s $esp/loader/keys/auto/$k.auth ]] || fail "$esp: no $k.auth"; done
	for c in "$T/pki/keys/db/db.pem" "$T/extra-db.pem"; do
		grep -qF "$(openssl x509 -in "$c" -outform DER | xxd -p | tr -d '\n')" <(xxd -p "$esp/loader/keys/auto/db.auth" | tr -d '\n') ||
			fail "$esp/loader/keys/auto/db.auth lacks $c"
	done
	for f in "$esp"/EFI/Linux/*.efi "$esp/EFI/systemd/systemd-bootx64.efi"; do
		sbverify --cert "$T/pki/keys/db/db.pem" "$f" >/dev/null 2>&1 || fail "sbverify rejects $f"
	done
	# The sort keys and command lines that the evaluation put into boot.json, read back from the stubs.
	"$PY" - "$esp" "${out[2]}" "$(readlink "${out[2]}/specialisation/alt")" <<'PY' || fail "$esp: stub sections"
import glob, sys
import pefile
esp, top, alt_top = sys.argv[1:]
def sec(path, name):
    for s in pefile.PE(path, fast_load=True).sections:
        if s.Name.rstrip(b"\0").decode() == name:
            return s.get_data()[: s.Misc_VirtualSize].decode()
    sys.exit(f"{path}: no {name}")
parent, = [p for p in glob.glob(f"{esp}/EFI/Linux/nixos-generation-3-*.efi") if "-specialisation-" not in p]
alt, = glob.glob(f"{esp}/EFI/Linux/nixos-generation-3-specialisation-alt-*.efi")
bad = []
def want(path, name, text):
    if text not in sec(path, name):
        bad.append(f"{path}: {name} lacks {text!r}: {sec(path, name)!r}")
def cmdline(path, init, params):
    words = sec(path, ".cmdline").split(" ")
    if words[0] != f"init={init}/init" or sorted(words[1:]) != sorted(params):
        bad.append(f"{path}: .cmdline is {' '.join(words)!r}, want init={init}/init and {params}")
want(parent, ".osrel", "ID=mysortkey\n")
want(alt, ".osrel", "ID=zz-alt\n")
cmdline(parent, top, ["quiet", "gen=3"])
cmdline(alt, alt_top, ["quiet", "gen=3", "alt"])
bad and print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
done
cmp -s <(cd "$T/esp" && find . -type f | sort) "$T/files" || fail "the two ESPs hold different files"

# nixos-rebuild switch --rollback: the hook gets generation 2's toplevel; systemd-boot must boot it
# although generation 3 is newer. A toplevel that is no generation (the specialisation's) leaves
# systemd-boot's own choice, nixos-*.
hook_to() {
	unshare -m sh -c 'mount --bind "$1/profiles" /nix/var/nix/profiles && exec "$2" "$3"' _ "$T" "$hook" "$1" \
		>"$T/hook.log" 2>&1 || fail "the install hook failed for $1: $(cat "$T/hook.log")"
}
hook_to "${out[1]}"
for esp in "$T/esp" "$T/esp2"; do
	grep -qxE "default nixos-generation-2-$b32\*" "$esp/loader/loader.conf" ||
		fail "rollback: $esp/loader/loader.conf: $(grep default "$esp/loader/loader.conf")"
	ls "$esp"/EFI/Linux/nixos-generation-3-*.efi >/dev/null || fail "rollback removed generation 3"
	"$PY" "$NIX_TESTS/../install/check-esp.py" "$esp" || fail "$esp: invariant after rollback"
done
hook_to "$(readlink "${out[2]}/specialisation/alt")"
grep -qx 'default nixos-\*' "$T/esp/loader/loader.conf" || fail "specialisation toplevel: $(grep default "$T/esp/loader/loader.conf")"
nix-store --delete "${out[@]}" >/dev/null 2>&1 || true
echo "PASS: module evaluated, hook installed 3 generations into 2 ESPs, rollback default followed"

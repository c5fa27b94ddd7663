#!/bin/bash
# build-systemd-stub.sh VERSION [--unpatched] [--tests]
#
# Builds systemd-boot and sd-stub (linuxx64.efi.stub) from Debian's systemd source package of the given
# major VERSION (e.g. 257) with our series patches/systemd/vVERSION/ applied, and prints four lines:
#   systemd-boot <path of systemd-bootx64.efi>
#   stub <path of linuxx64.efi.stub>
#   addon <path of addonx64.efi.stub, unchanged by the series (ukify builds profile and addon PEs on it)>
#   ukify <path of ukify.py from the same source, unchanged by the series>
# --unpatched builds the same source without the series (the no-regression reference); --tests also builds
# and runs the series' unit tests (and systemd's own test-efi-string) with meson, which needs systemd's
# userspace libraries and takes much longer the first time.
#
# The source package comes through a private apt configuration (deb-src lines for trixie and sid, newest
# source of that major version that the archive really serves); nothing system-wide changes. Every patch
# must apply with patch --fuzz=0 and without offsets, otherwise the build stops. The result is cached under
# $LANZABOOTE_TEST_CACHE/systemd-stub, keyed by the source package's .dsc, the series' content, the options
# and RECIPE below; a failed build is never recorded as done.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Bump when a change to this script changes what it builds (the cache key covers the source and the series).
RECIPE=1
# Debian's python3 with its python3-pyelftools and python3-jinja2, not one that happens to be first in PATH
# (ukify.py, printed below, also wants Debian's /usr/bin/python3 for python3-pefile).
export PATH=/usr/bin:/bin:$PATH

usage() {
        echo "usage: $0 VERSION [--unpatched] [--tests]" >&2
        exit 2
}

say() { echo "build-systemd-stub: $*" >&2; }
die() {
        say "$*"
        exit 1
}

version=${1:-}
[[ $version =~ ^[0-9]+$ ]] || usage
shift
patched=1 tests=0
for a; do
        case $a in
        --unpatched) patched=0 ;;
        --tests) tests=1 ;;
        *) usage ;;
        esac
done

series_dir=$ROOT/patches/systemd/v$version
if ((patched)); then
        [[ -f $series_dir/series ]] || die "$series_dir/series: no patch series for systemd $version"
fi

CACHE=${LANZABOOTE_TEST_CACHE:-$HOME/.cache/lanzaboote-test}/systemd-stub
mkdir -p "$CACHE"
exec {lock}>"$CACHE/lock"
flock -w 3600 "$lock" || die "$CACHE/lock: another build holds it for an hour"

# ---- the source package, through a private apt configuration ------------------------------------------------
apt_dir=$CACHE/apt
# shellcheck source=test/lib/apt-private.sh
source "$ROOT/test/lib/apt-private.sh"
apt_private_init "$apt_dir" --src trixie sid || die "the private apt root $apt_dir could not be updated"

src_dir=$CACHE/source
mkdir -p "$src_dir"
dsc=""
# Newest first; a version whose files the archive does not serve (sid's, at times) is skipped.
while read -r v; do
        dsc=$src_dir/systemd_${v#*:}.dsc
        [[ -f $dsc ]] && break
        dsc=""
        if (cd "$src_dir" && apt_private "$apt_dir" apt-get -qq source --download-only "systemd=$v" >/dev/null 2>&1); then
                dsc=$src_dir/systemd_${v#*:}.dsc
                [[ -f $dsc ]] && break
        fi
        say "systemd $v is listed but its source is not served; trying an older one"
        dsc=""
done < <(apt_private "$apt_dir" apt-cache showsrc systemd 2>/dev/null | sed -n 's/^Version: //p' |
        grep -E "^([0-9]+:)?$version(\.|-|~|$)" | sort -rV | uniq)
[[ -n $dsc ]] || die "no systemd $version source package is served by deb.debian.org (trixie, sid)"

# ---- the cache key ----------------------------------------------------------------------------------------
key=$({
        echo "$RECIPE $patched $tests"
        sha256sum <"$dsc"
        if ((patched)); then
                sha256sum <"$series_dir/series"
                grep -v '^#' "$series_dir/series" | while read -r p; do [[ -z $p ]] || sha256sum <"$series_dir/$p"; done
        fi
} | sha256sum | cut -c1-16)
out=$CACHE/$(basename "$dsc" .dsc)-$([[ $patched == 1 ]] && echo patched || echo unpatched)$([[ $tests == 0 ]] || echo -tests)
stamp=$out/stamp

print_paths() {
        echo "systemd-boot $out/systemd-bootx64.efi"
        echo "stub $out/linuxx64.efi.stub"
        echo "addon $out/addonx64.efi.stub"
        echo "ukify $out/src/src/ukify/ukify.py"
}

if [[ -f $stamp && $(<"$stamp") == "$key" && -f $out/linuxx64.efi.stub && -f $out/systemd-bootx64.efi ]]; then
        # A cache made before the addon stub was printed: build that one target in the kept build tree.
        if [[ ! -f $out/addonx64.efi.stub ]]; then
                nice ninja -C "$out/build" src/boot/addonx64.efi.stub >>"$out/ninja.log" 2>&1 ||
                        die "building the addon stub failed; see $out/ninja.log"
                cp "$out/build/src/boot/addonx64.efi.stub" "$out/"
        fi
        print_paths
        exit 0
fi

# ---- extract, patch, build ---------------------------------------------------------------------------------
SECONDS=0
rm -rf "$out"
mkdir -p "$out"
tree=$out/src
dpkg-source --no-check -x "$dsc" "$tree" >/dev/null || die "$dsc: dpkg-source -x failed"
rm -f "$out"/*.orig.tar.* "$out"/*.debian.tar.* # dpkg-source's copies next to the tree

if ((patched)); then
        while read -r p; do
                [[ -z $p || $p == \#* ]] && continue
                log=$(patch -d "$tree" -p1 --fuzz=0 --no-backup-if-mismatch -i "$series_dir/$p" 2>&1) ||
                        die "$series_dir/$p does not apply to $(basename "$dsc" .dsc):"$'\n'"$log"
                if grep -Eq 'fuzz|offset' <<<"$log"; then
                        die "$series_dir/$p applies only with offsets or fuzz; refresh the series:"$'\n'"$log"
                fi
        done <"$series_dir/series"
        say "applied $(grep -cv '^\(#\|$\)' "$series_dir/series") patches with zero fuzz"
fi

build=$out/build
meson_tests=false
((tests)) && meson_tests=true
meson_opts=(-Dmode=release -Dbootloader=enabled -Defi=true -Dwerror=true -Dman=disabled -Dhtml=disabled
        -Dtests="$meson_tests" -Dsbat-distro=debian
        -Dsbat-distro-version="$(sed -n 's/^Version: //p' "$dsc")" -Dsbat-distro-url=https://bugs.debian.org/)
nice meson setup "$build" "$tree" "${meson_opts[@]}" >"$out/meson-setup.log" 2>&1 ||
        die "meson setup failed; see $out/meson-setup.log"
targets=(src/boot/systemd-bootx64.efi src/boot/linuxx64.efi.stub src/boot/addonx64.efi.stub)
nice ninja -C "$build" "${targets[@]}" >"$out/ninja.log" 2>&1 || {
        tail -n 40 "$out/ninja.log" >&2
        die "the build failed; see $out/ninja.log"
}
cp "$build/src/boot/systemd-bootx64.efi" "$build/src/boot/linuxx64.efi.stub" "$build/src/boot/addonx64.efi.stub" "$out/"

if ((tests)); then
        # systemd's own test of the EFI string functions, and every test the series adds to src/boot.
        test_names=(test-efi-string)
        if ((patched)); then
                mapfile -t -O 1 test_names < <(grep -ho "files('test-[a-z0-9-]*\.c')" "$tree/src/boot/meson.build" |
                        sed "s/files('\(.*\)\.c')/\1/" | grep -vx -e test-efi-string -e test-bcd)
        fi
        nice ninja -C "$build" "${test_names[@]}" >>"$out/ninja.log" 2>&1 || {
                tail -n 40 "$out/ninja.log" >&2
                die "building the unit tests failed; see $out/ninja.log"
        }
        meson test -C "$build" --no-rebuild --print-errorlogs "${test_names[@]}" >"$out/unit-tests.log" 2>&1 || {
                cat "$out/unit-tests.log" >&2
                die "unit tests failed: ${test_names[*]}"
        }
        say "unit tests: $(grep -E '^(Ok|Fail):' "$out/unit-tests.log" | tr -s ' \n' ' ')"
fi

say "built $(basename "$out") in ${SECONDS}s"
echo "$key" >"$stamp"
print_paths

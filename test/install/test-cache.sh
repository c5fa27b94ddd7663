#!/bin/bash
# install's hash cache (src/lanzatool/hash-cache.h) never hides a change: a warm re-install writes nothing
# to the ESP (strace: no write-open, rename or unlink there) and leaves the cache file alone; a flipped
# ESP byte (size and mtime kept), a changed bootspec, key, stub or systemd-boot, and a new store file are
# each noticed; a corrupt, truncated, foreign or others-writable cache file is ignored with a warning; a
# state directory that cannot be written means no cache; --dry-run and verify never write it.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/install/lib.sh
source "$HERE/lib.sh"

CACHE=$T/state/hash-cache
for n in 1 2 3; do mk_generation "$n" "k$((n % 2))"; done
GENS=("$T/profiles/system-1-link" "$T/profiles/system-2-link" "$T/profiles/system-3-link")

run() { # install the three generations, output in $T/out; with TRACE=1 under strace (without LeakSanitizer,
	# which does not work there), the syscalls on the ESP and the state in $T/trace
	local tracer=()
	# shellcheck disable=SC2054 # the commas are strace's
	[[ -n ${TRACE:-} ]] && tracer=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq
		-e trace=openat,open,creat,rename,renameat,renameat2,unlink,unlinkat,truncate,mkdir,mkdirat -o "$T/trace")
	"${tracer[@]}" "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="${PKI:-$T/pki}" --stub="${STUB:-$LANZABOOTE_STUB}" \
		--no-variables --timeout=0 "$@" install "${GENS[@]}" >"$T/out" 2>&1 || { cat "$T/out"; fail "install failed"; }
}
esp_writes() { # the syscalls that changed the ESP in the last run
	grep -F "$T/esp" "$T/trace" | grep -E 'O_WRONLY|O_RDWR|O_CREAT|rename|unlink|mkdir|truncate' || true
	grep -E '"(EFI|loader|\.lzbt-|nixos-|kernel-|initrd-)[^"]*", O_[A-Z_|]*(O_WRONLY|O_RDWR|O_CREAT)' "$T/trace" || true
	grep -E 'rename|unlink' "$T/trace" | grep -v -F "$T/state" || true
}
first_of() { grep -m 1 -F "$1: hash" "$T/out" || true; } # how the run got FILE's hash, the first time
written() { sed -n 's/.* entries installed, \([0-9]*\) files written$/\1/p' "$T/out"; }
expect_written() { # N WHAT
	[[ $(written) == "$1" ]] || { cat "$T/out"; fail "$2: expected $1 files written, got '$(written)'"; }
	[[ -n ${NO_CHECK:-} ]] || check_esp >/dev/null || fail "$2: the ESP fails the independent check"
}
warm() { # WHAT: nothing to do, nothing written, cache file untouched
	local before
	before=$(stat -c '%i %Y %s' "$CACHE")
	TRACE=1 run -v
	expect_written 0 "$1"
	[[ -z $(esp_writes) ]] || { esp_writes; fail "$1: the warm run changed the ESP"; }
	[[ $(stat -c '%i %Y %s' "$CACHE") == "$before" ]] || fail "$1: the warm run rewrote an unchanged cache"
}

# Cold, then warm.
run
expect_written 10 "cold install" # 2 kernels, 3 initrds (2 shared), 3 stubs, 2 systemd-boot, loader.conf
head -n 1 "$CACHE" | grep -qx 'lanzatool hash-cache 1' || fail "no cache file after install"
[[ $(stat -c %a "$CACHE") == 600 ]] || fail "cache file mode $(stat -c %a "$CACHE"), wanted 600"
warm "warm re-install"
grep -q 'hash from the cache' "$T/out" || fail "warm run: no hash came from the cache"
grep -q 'not rebuilt' "$T/out" || fail "warm run: stubs were rebuilt"

# An ESP byte flipped with size and mtime kept (touch -d back): on this file system ctime moves, so the
# cache does not match and the file is re-hashed and rewritten. (On vfat ctime is the creation time:
# there this is the documented limit, as for make and rsync.)
f=$(find "$T/esp/EFI/nixos" -name 'initrd-*' | head -n 1)
m=$(stat -c %y "$f")
printf '\xff' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
touch -d "$m" "$f"
TRACE=1 run -v
expect_written 1 "flipped ESP byte"
esp_writes | grep -qF "$(basename "$f")" || fail "flipped ESP byte: $f was not rewritten"
warm "warm after the flip"

# A stub on the ESP changed the same way: rebuilt and rewritten.
f=$(find "$T/esp/EFI/Linux" -name 'nixos-generation-2-*' | head -n 1)
m=$(stat -c %y "$f")
printf '\x00' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
touch -d "$m" "$f"
run
expect_written 1 "changed stub on the ESP"

# A changed bootspec: a new stub for that generation only.
sed -i 's/"quiet"/"quiet", "lzbt.cache=1"/' "$T/store/top3-nixos-system/boot.json"
TRACE=1 run -v
expect_written 1 "changed bootspec"
grep -q 'nixos-generation-3-' <(esp_writes) || fail "changed bootspec: generation 3's stub not written"

# A store file replaced by a new inode with the same bytes: hashed again, nothing written.
k=$T/store/k1-linux-6.1.0/bzImage
cp -p "$k" "$k.new" && mv "$k.new" "$k"
run -v
expect_written 0 "same bytes, new inode"
[[ $(first_of "$k") == *": hashed ("* ]] || fail "new inode: the old hash was trusted ($(first_of "$k"))"
# The same inode with new bytes (size and mtime kept, ctime moves): a new kernel on the ESP.
m=$(stat -c %y "$k")
printf 'lzbt' | dd of="$k" bs=1 seek=$(($(stat -c %s "$k") - 4)) conv=notrunc status=none
touch -d "$m" "$k"
run -v
[[ $(first_of "$k") == *": hashed ("* ]] || fail "changed store file: the old hash was trusted ($(first_of "$k"))"
[[ $(written) -ge 3 ]] || { cat "$T/out"; fail "changed store file: expected a new kernel and stubs written"; }
check_esp >/dev/null || fail "changed store file: the ESP fails the independent check"
warm "warm after the store change"

# A changed stub template (its COFF TimeDateStamp): every stub re-signed.
cp "$LANZABOOTE_STUB" "$T/stub2"
"$PY" - "$T/stub2" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
pe = struct.unpack_from("<I", d, 0x3c)[0]
struct.pack_into("<I", d, pe + 8, struct.unpack_from("<I", d, pe + 8)[0] ^ 0x1)
open(sys.argv[1], "wb").write(d)
EOF
STUB=$T/stub2 run
expect_written 3 "changed stub template"
STUB=$T/stub2 warm "warm with the new stub"
STUB=$T/stub2

# A newer systemd-boot (same length, higher VERSION): written to both paths.
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
"$PY" - "$sdboot" "$T/sdboot" <<'EOF'
import re, sys
d = open(sys.argv[1], "rb").read()
m = re.search(rb'VERSION="(\d+)\.', d)
assert m, "no VERSION in systemd-boot"
newer = str(int(m.group(1)) + 1).encode()
assert len(newer) == len(m.group(1))
open(sys.argv[2], "wb").write(d[:m.start(1)] + newer + d[m.end(1):])
EOF
run --systemd-boot="$T/sdboot"
expect_written 2 "newer systemd-boot"
run --systemd-boot="$T/sdboot"
expect_written 0 "warm with the newer systemd-boot"

# A new key: new names for every stub (the key is part of the name) and systemd-boot re-signed.
mk_pki "$T/pki2" "lzbt cache 2"
ls "$T/esp/EFI/Linux" >"$T/old-stubs"
PKI=$T/pki2 run --systemd-boot="$T/sdboot"
[[ $(written) == 5 ]] || { cat "$T/out"; fail "new key: expected 3 stubs and 2 systemd-boot written, got $(written)"; }
# The old default stays beside the new stubs (install's rule for the entry systemd-boot would pick).
for f in "$T"/esp/EFI/Linux/*.efi "$T/esp/EFI/systemd/systemd-bootx64.efi"; do
	grep -qxF "$(basename "$f")" "$T/old-stubs" && continue
	sbverify --cert "$T/pki2/keys/db/db.pem" "$f" >/dev/null 2>&1 || fail "new key: $f is not signed by it"
done
PKI=$T/pki2 NO_CHECK=1 # the old default, signed by the old key, stays: check_esp would reject it

# A cache file that cannot be trusted is ignored with a warning, and everything is hashed again.
cache_ignored() { # WHAT: the run warned, hashed everything, wrote a good cache again
	run -v --systemd-boot="$T/sdboot"
	grep -q "hash-cache: ignored, hashing everything" "$T/out" || { cat "$T/out"; fail "$1: no warning"; }
	for f in "$T"/store/*/bzImage "$T"/store/*/initrd; do
		[[ $(first_of "$f") == *": hashed ("* ]] || fail "$1: $f's hash came from the ignored cache"
	done
	expect_written 0 "$1"
	head -n 1 "$CACHE" | grep -qx 'lanzatool hash-cache 1' || fail "$1: the cache was not written again"
}
head -c 300 "$CACHE" >"$CACHE.t" && mv "$CACHE.t" "$CACHE"
cache_ignored "truncated cache"
sed -i '2s/^\(.\) ./\1 x/' "$CACHE"
cache_ignored "corrupt cache (checksum)"
echo 'something else entirely' >"$CACHE"
cache_ignored "foreign cache"
chmod 666 "$CACHE"
cache_ignored "cache writable by others"
[[ $(stat -c %a "$CACHE") == 600 ]] || fail "the rewritten cache is not 600"
rm "$CACHE"
ln -s /etc/hostname "$CACHE"
run -v --systemd-boot="$T/sdboot"
[[ $(first_of "$k") == *": hashed ("* ]] || fail "symlinked cache: trusted"
[[ -f $CACHE && ! -L $CACHE ]] || fail "symlinked cache: not replaced by a file"

# --dry-run and verify never write the cache; verify does not even read it.
before=$(stat -c '%i %Y' "$CACHE")
rm -rf "$T/esp2" && mkdir "$T/esp2"
"$LANZATOOL" --esp-path="$T/esp2" --pki-bundle="$PKI" --stub="$STUB" --no-variables --dry-run \
	install "${GENS[@]}" >/dev/null
[[ $(stat -c '%i %Y' "$CACHE") == "$before" ]] || fail "--dry-run wrote the cache"
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=openat -o "$T/trace" "$LANZATOOL" --esp-path="$T/esp" --pki-bundle="$PKI" verify >/dev/null 2>&1 || true
grep -q hash-cache "$T/trace" && fail "verify opened the hash cache"

# A state directory that cannot be written (an image build): install works, with no cache and no warning.
"$LANZATOOL" --esp-path="$T/esp2" --pki-bundle="$PKI" --stub="$STUB" --no-variables --state-dir=/proc/self \
	install "${GENS[@]}" >"$T/out" 2>&1 || { cat "$T/out"; fail "read-only state dir: install failed"; }
grep -q warning "$T/out" && { cat "$T/out"; fail "read-only state dir: warned"; }
"$LANZATOOL" --esp-path="$T/esp2" --pki-bundle="$PKI" --stub="$STUB" --no-variables --state-dir= \
	install "${GENS[@]}" >"$T/out" 2>&1 || fail "--state-dir= (no cache): install failed"
echo "PASS"

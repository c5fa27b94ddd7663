#!/usr/bin/python3
"""Install invariant checker, independent of lanzatool: reads the stubs with pefile, signatures with sbverify.

check-esp.py [--db PEM] [--unsigned-loader FILE] [--keys DIR] [--sig-cache FILE] [--boot XBOOTLDR] ESP [PREVIOUS_DEFAULT...]
check-esp.py --keys-only [--keys DIR] DIR...   (only the scan for private key material, of each DIR)

- Every EFI/Linux/nixos-*.efi is a PE image whose .linux (and .initrd, if it has one) names a file in
  EFI/nixos that exists and hashes to .linuxh (.initrdh); a stub has .initrdh if and only if it has .initrd.
  An empty nixos-*.efi is no entry (systemd-boot skips a file without PE sections): after a power cut on
  FAT a new name can be durable before its content (see lanzatool's fs-util.c).
- Both systemd-boot copies (EFI/systemd/systemd-boot<arch>.efi and EFI/BOOT/BOOT<ARCH>.EFI) are there and
  are systemd-boot; with --db, they and every stub verify with sbverify against that certificate.
  With --unsigned-loader, a copy byte-identical to FILE (the plain systemd-boot of an ESP being migrated)
  needs no signature.
- Every Type #1 entry loader/entries/*.conf names (linux, initrd, efi, devicetree) files that exist.
- loader/loader.conf parses as systemd-boot reads it (known keys, one per line) and has a default that
  matches an entry (in EFI/Linux or loader/entries).
- With --boot (an Extended Boot Loader partition): the stubs and their payloads are checked there, since a
  stub reads its kernel and initrd from its own volume; systemd-boot and loader.conf on the ESP; the ESP
  holds no stub (EFI/Linux/nixos-*) and no EFI/nixos of ours.
- Each PREVIOUS_DEFAULT (a file name in EFI/Linux, or a .conf in loader/entries) exists, is not empty and
  is sound.
- No file holds private key material: no PEM private key, no DER PKCS#8 private key, and with --keys, none
  of the secret primes of a *.key file under DIR in any encoding that keeps their bytes.
Exits 1 naming each problem."""
import argparse
import fnmatch
import hashlib
import os
import re
import subprocess
import sys

import pefile

ARCHES = (("x64", "X64"), ("aa64", "AA64"), ("ia32", "IA32"))
# systemd-boot's loader.conf keys (systemd 252–257 boot.c), enough to catch a torn or garbled file.
LOADER_KEYS = {
    "timeout", "default", "editor", "auto-entries", "auto-firmware", "auto-reboot", "auto-poweroff",
    "beep", "console-mode", "random-seed-mode", "secure-boot-enroll", "reboot-for-bitlocker",
    "reboot-on-error", "preferred-profile",
}
PEM_PRIVATE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# DER PrivateKeyInfo (RFC 5208): SEQUENCE, INTEGER 0, SEQUENCE { OID rsaEncryption | id-ecPublicKey ...
DER_PKCS8 = re.compile(rb"\x30(\x82..|\x81.)\x02\x01\x00\x30[\x0d\x13]\x06[\x07\x09]"
                       rb"(\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01|\x2a\x86\x48\xce\x3d\x02\x01)", re.S)
# DER RSAPrivateKey (RFC 8017): SEQUENCE, INTEGER 0 (two-prime), INTEGER modulus of 1024–4096 bits.
DER_PKCS1 = re.compile(rb"\x30(\x82..|\x81.)\x02\x01\x00(\x02\x81\x81|\x02\x82\x01[\x01\x81]|\x02\x82\x02\x01)\x00", re.S)


def sections(path):
    pe = pefile.PE(path, fast_load=True)
    found = {}
    for s in pe.sections:
        name = s.Name.rstrip(b"\0").decode("ascii", "replace")
        found[name] = s.get_data()[: s.Misc_VirtualSize]
    return found


def check_stub(esp, name):
    path = os.path.join(esp, "EFI", "Linux", name)
    try:
        s = sections(path)
    except Exception as e:  # a torn or truncated stub is exactly what must never happen
        return [f"{path}: not a PE image: {e}"]
    problems = []
    if ".linux" not in s:
        problems.append(f"{path}: no .linux")
    if ".initrd" not in s and ".initrdh" in s:
        problems.append(f"{path}: .initrdh without .initrd")
    for target, pin in ((".linux", ".linuxh"), (".initrd", ".initrdh")):
        if target not in s:
            continue
        ref = s[target].decode("utf-8", "replace")
        if not ref.startswith("\\EFI\\nixos\\") or pin not in s or len(s[pin]) != 32:
            problems.append(f"{path}: {target} is {ref!r} without a proper {pin}")
            continue
        file = os.path.join(esp, "EFI", "nixos", ref[len("\\EFI\\nixos\\"):])
        if not os.path.isfile(file):
            problems.append(f"{path}: {file} is missing")
        elif hashlib.sha256(open(file, "rb").read()).digest() != s[pin]:
            problems.append(f"{path}: {file} does not match {pin}")
    return problems


def check_type1(esp, name):
    """The files a Type #1 entry names exist (paths relative to the ESP; systemd-boot takes either slash)."""
    path = os.path.join(esp, "loader", "entries", name)
    problems = []
    for line in open(path, "rb").read().decode("utf-8", "replace").splitlines():
        key, _, value = line.strip().partition(" ")
        if key in ("linux", "initrd", "efi", "devicetree"):
            file = os.path.join(esp, value.strip().replace("\\", "/").lstrip("/"))
            if not os.path.isfile(file):
                problems.append(f"{path}: {key} {file} is missing")
    return problems


def check_signature(path, db, verified):
    """verified: the set of (file, certificate) SHA-256 pairs sbverify already accepted (--sig-cache)."""
    key = hashlib.sha256(open(path, "rb").read()).hexdigest() + ":" + hashlib.sha256(open(db, "rb").read()).hexdigest()
    if key in verified:
        return []
    r = subprocess.run(["sbverify", "--cert", db, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0 or b"Signature verification OK" not in r.stdout:
        return [f"{path}: sbverify --cert {db} rejects it: {r.stdout.decode(errors='replace').strip()}"]
    verified.add(key)
    return []


def systemd_boot_copies(esp):
    problems, copies = [], []
    for small, big in ARCHES:
        pair = (os.path.join(esp, "EFI", "systemd", f"systemd-boot{small}.efi"),
                os.path.join(esp, "EFI", "BOOT", f"BOOT{big}.EFI"))
        present = [p for p in pair if os.path.isfile(p)]
        if present and len(present) < 2:
            problems.append(f"{[p for p in pair if p not in present][0]} is missing")
        copies += present
    if not copies:
        problems.append(f"{esp}: no systemd-boot (EFI/systemd/systemd-boot*.efi, EFI/BOOT/BOOT*.EFI)")
    for c in copies:
        try:
            osrel = sections(c).get(".osrel", b"")
        except Exception as e:
            problems.append(f"{c}: not a PE image: {e}")
            continue
        # Debian's aa64 build of systemd 252 has no .osrel; bootctl reads its LoaderInfo marker then.
        if b"ID=systemd-boot" not in osrel and b"#### LoaderInfo: systemd-boot " not in open(c, "rb").read():
            problems.append(f"{c}: not systemd-boot (no ID=systemd-boot in .osrel, no LoaderInfo marker)")
    return problems, copies


def check_loader_conf(esp, entries):
    path = os.path.join(esp, "loader", "loader.conf")
    try:
        text = open(path, "rb").read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [f"{path}: unreadable: {e}"]
    problems = []
    if text and not text.endswith("\n"):
        problems.append(f"{path}: last line is cut off")
    default = None
    for n, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key not in LOADER_KEYS or "\0" in line:
            problems.append(f"{path}:{n}: not a loader.conf line: {line!r}")
        elif key == "default":
            default = value.strip()
    if default is None:
        problems.append(f"{path}: no default line (lanzatool always writes one)")
    elif entries and not any(fnmatch.fnmatch(e, default) for e in entries):
        problems.append(f"{path}: default {default!r} matches no entry in EFI/Linux")
    return problems


def secret_primes(keys_dir):
    """The prime factors of every RSA *.key under keys_dir, as big-endian bytes."""
    primes = []
    for root, _, files in os.walk(keys_dir):
        for f in files:
            if not f.endswith(".key"):
                continue
            r = subprocess.run(["openssl", "rsa", "-in", os.path.join(root, f), "-noout", "-text"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for name in ("prime1", "prime2"):
                m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", r.stdout)
                if m:
                    primes.append(bytes.fromhex(re.sub(r"[\s:]", "", m.group(1))).lstrip(b"\0"))
    return primes


def scan_keys(esp, primes):
    problems = []
    for root, _, files in os.walk(esp):
        for f in files:
            path = os.path.join(root, f)
            data = open(path, "rb").read()
            if PEM_PRIVATE.search(data):
                problems.append(f"{path}: holds a PEM private key")
            if DER_PKCS8.search(data) or DER_PKCS1.search(data):
                problems.append(f"{path}: holds a DER private key")
            if any(p in data for p in primes):
                problems.append(f"{path}: holds a secret prime of a test key")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="certificate every signature must verify against (sbverify --cert)")
    ap.add_argument("--unsigned-loader", help="a systemd-boot copy identical to this file needs no signature")
    ap.add_argument("--keys", help="directory whose *.key files must not leak onto the ESP")
    ap.add_argument("--sig-cache", help="file remembering which file and certificate contents sbverify accepted")
    ap.add_argument("--keys-only", action="store_true", help="only scan the directories for private keys")
    ap.add_argument("--boot", help="the XBOOTLDR partition holding the stubs and payloads (default: the ESP)")
    ap.add_argument("esp")
    ap.add_argument("previous", nargs="*")
    args = ap.parse_intermixed_args()
    if args.keys_only:
        primes = secret_primes(args.keys) if args.keys else []
        problems = [p for d in [args.esp] + args.previous for p in scan_keys(d, primes)]
        for p in problems:
            print(p, file=sys.stderr)
        sys.exit(1 if problems else 0)
    esp = args.esp
    boot = args.boot or esp
    linux = os.path.join(boot, "EFI", "Linux")
    names = sorted(n for n in os.listdir(linux) if n.startswith("nixos-")) if os.path.isdir(linux) else []
    empty = {n for n in names if os.path.getsize(os.path.join(linux, n)) == 0}
    problems = [p for n in names if n not in empty for p in check_stub(boot, n)]
    if args.boot:
        esp_linux = os.path.join(esp, "EFI", "Linux")
        if os.path.isdir(esp_linux):
            problems += [f"{esp_linux}/{n}: a stub on the ESP, but the entries are on {boot}"
                         for n in os.listdir(esp_linux) if n.startswith("nixos-")]
        if os.path.exists(os.path.join(esp, "EFI", "nixos")):
            problems.append(f"{esp}/EFI/nixos: payloads on the ESP, but the entries are on {boot}")
    entries = os.path.join(esp, "loader", "entries")
    type1 = sorted(n for n in os.listdir(entries) if n.lower().endswith(".conf")) if os.path.isdir(entries) else []
    problems += [p for n in type1 for p in check_type1(esp, n)]
    for required in args.previous:
        if required.endswith(".conf"):
            if required not in type1:
                problems.append(f"previous default {required} is gone")
            continue
        if required not in names:
            problems.append(f"previous default {required} is gone")
        elif required in empty:
            problems.append(f"previous default {required} is empty")
    boot_problems, copies = systemd_boot_copies(esp)
    problems += boot_problems
    if args.db:
        verified = set()
        if args.sig_cache and os.path.exists(args.sig_cache):
            verified = set(open(args.sig_cache).read().split())
        plain = open(args.unsigned_loader, "rb").read() if args.unsigned_loader else None
        copies = [c for c in copies if plain is None or open(c, "rb").read() != plain]
        for path in [os.path.join(linux, n) for n in names if n not in empty] + copies:
            problems += check_signature(path, args.db, verified)
        if args.sig_cache:
            with open(args.sig_cache, "w") as f:
                f.write("\n".join(sorted(verified)))
    problems += check_loader_conf(esp, (os.listdir(linux) if os.path.isdir(linux) else []) + type1)
    primes = secret_primes(args.keys) if args.keys else []
    problems += [p for d in sorted({esp, boot}) for p in scan_keys(d, primes)]
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()

#!/usr/bin/python3
"""ESPs that users migrate from, made from their published layouts, not by lanzatool.

mk-esp.py type1 ESP SYSTEMD_BOOT DEFAULT_GEN GENERATION_LINK...
    plain NixOS systemd-boot as nixpkgs' systemd-boot-builder.py writes it: loader/entries/
    nixos-generation-N[-specialisation-S].conf (title, sort-key nixos, version, linux, initrd, options,
    machine-id), kernels and initrds copied to EFI/nixos/<store directory>-<file>.efi, loader.conf with
    "default nixos-generation-DEFAULT_GEN.conf", and systemd-boot unsigned at both of its places (bootctl
    install), plus loader/entries.srel and loader/random-seed. A foreign entry (memtest86.conf, its
    EFI/memtest86/memtest.efi) stands for what others put there.
mk-esp.py upstream ESP SYSTEMD_BOOT BASE_PE DB_KEY DB_PEM GENERATION_LINK...
    upstream lanzaboote (DESIGN §2, lanzaboote-upstream-study.md §2.2, §3): stubs made as lzbt makes them
    (objcopy adds .osrel .cmdline .initrd .linux .initrdh .linuxh to a stub binary, then sbsign), named
    nixos-generation-N-<B32(SHA-256 of serde_json [["toplevel",bytes],["public_key",bytes]])>.efi, payloads
    EFI/nixos/{kernel,initrd}-<kver>-<B32(SHA-256)>.efi, systemd-boot signed by sbsign, the module's
    loader.conf. BASE_PE stands in for upstream's Rust stub binary: any x86-64 PE without those sections."""
import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

MACHINE_ID = "0123456789abcdef0123456789abcdef"


def b32(digest):
    return base64.b32encode(digest).decode().lower().rstrip("=")


def sha256_file(path):
    return hashlib.sha256(open(path, "rb").read()).digest()


def generations(links):
    """(number, build date, bootspec, specialisation name or None) for each link, parents first."""
    for link in links:
        number = int(os.path.basename(link).split("-")[1])
        date = datetime.datetime.fromtimestamp(os.lstat(link).st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d")
        doc = json.load(open(os.path.join(link, "boot.json")))
        yield number, date, doc["org.nixos.bootspec.v1"], None
        for name, spec in sorted(doc.get("org.nixos.specialisation.v1", {}).items()):
            yield number, date, spec["org.nixos.bootspec.v1"], name


def cmdline(spec):
    return " ".join(["init=" + spec["init"]] + spec["kernelParams"])


def put(esp, rel, data):
    path = os.path.join(esp, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def type1(esp, systemd_boot, default_gen, links):
    for rel in ("EFI/systemd/systemd-bootx64.efi", "EFI/BOOT/BOOTX64.EFI"):
        put(esp, rel, open(systemd_boot, "rb").read())
    for number, date, spec, special in generations(links):
        files = []
        for key in ("kernel", "initrd"):
            src = os.path.realpath(spec[key])
            # copy_from_file(): the store directory's name, '-', the file's name, ".efi"
            name = f"{os.path.basename(os.path.dirname(src))}-{os.path.basename(src)}.efi"
            put(esp, "EFI/nixos/" + name, open(src, "rb").read())
            files.append("/EFI/nixos/" + name)
        conf = f"nixos-generation-{number}" + (f"-specialisation-{special}" if special else "") + ".conf"
        title = "NixOS" + (f" ({special})" if special else "")
        put(esp, "loader/entries/" + conf, (
            f"title {title}\nsort-key nixos\nversion Generation {number} {spec['label']}, built on {date}\n"
            f"linux {files[0]}\ninitrd {files[1]}\noptions {cmdline(spec)}\nmachine-id {MACHINE_ID}\n").encode())
    put(esp, "loader/loader.conf",
        f"timeout 5\ndefault nixos-generation-{default_gen}.conf\neditor 0\nconsole-mode keep\n".encode())
    put(esp, "loader/entries.srel", b"type1\n")
    put(esp, "loader/random-seed", os.urandom(32))
    put(esp, "loader/entries/memtest86.conf", b"title memtest86+\nefi /EFI/memtest86/memtest.efi\n")
    put(esp, "EFI/memtest86/memtest.efi", os.urandom(4096))


def entry_stem(toplevel, public_key, number, special):
    inputs = json.dumps([["toplevel", list(toplevel.encode())], ["public_key", list(public_key)]],
                        separators=(",", ":"))
    spec = f"-specialisation-{special}" if special else ""
    return f"nixos-generation-{number}{spec}-{b32(hashlib.sha256(inputs.encode()).digest())}"


def sign(key, cert, src, dst):
    subprocess.run(["sbsign", "--key", key, "--cert", cert, "--output", dst, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def upstream(esp, systemd_boot, base, key, cert, links):
    tmp = tempfile.mkdtemp()
    public_key = open(cert, "rb").read()
    for number, date, spec, special in generations(links):
        kver = os.path.basename(os.path.dirname(os.path.realpath(spec["kernel"]))).rsplit("-", 1)[-1]
        sections, paths = {}, {}
        for kind, key_name in (("kernel", "linux"), ("initrd", "initrd")):
            src = spec[kind]
            digest = sha256_file(src)
            name = f"{kind}-{kver}-{b32(digest)}.efi"
            put(esp, "EFI/nixos/" + name, open(src, "rb").read())
            paths[key_name] = ("\\EFI\\nixos\\" + name).encode()
            sections[key_name + "h"] = digest
        label = spec["label"] + f" (Generation {number}" + (f"-{special}" if special else "") + f", {date})"
        version = f"Generation {number}" + (f"-{special}" if special else "") + f", {date}"
        sections = [(".osrel", f"ID=lanza\nPRETTY_NAME={label}\nVERSION_ID={version}\n".encode()),
                    (".cmdline", cmdline(spec).encode()), (".initrd", paths["initrd"]), (".linux", paths["linux"]),
                    (".initrdh", sections["initrdh"]), (".linuxh", sections["linuxh"])]
        args, vma = [], 0x10000000
        for name, data in sections:
            f = os.path.join(tmp, name.lstrip("."))
            open(f, "wb").write(data)
            args += ["--add-section", f"{name}={f}", "--change-section-vma", f"{name}={vma:#x}"]
            vma += (len(data) + 0xFFF) & ~0xFFF
        unsigned = os.path.join(tmp, "stub.efi")
        subprocess.run(["objcopy"] + args + [base, unsigned], check=True)
        stem = entry_stem(spec["toplevel"], public_key, number, special)
        os.makedirs(os.path.join(esp, "EFI/Linux"), exist_ok=True)
        sign(key, cert, unsigned, os.path.join(esp, "EFI/Linux", stem + ".efi"))
    for rel in ("EFI/systemd/systemd-bootx64.efi", "EFI/BOOT/BOOTX64.EFI"):
        os.makedirs(os.path.dirname(os.path.join(esp, rel)), exist_ok=True)
        sign(key, cert, systemd_boot, os.path.join(esp, rel))
    put(esp, "loader/loader.conf", b"timeout 5\nconsole-mode keep\neditor no\ndefault nixos-*\n")
    shutil.rmtree(tmp)


if sys.argv[1] == "type1":
    type1(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
elif sys.argv[1] == "upstream":
    upstream(*sys.argv[2:7], sys.argv[7:])
else:
    sys.exit(__doc__)

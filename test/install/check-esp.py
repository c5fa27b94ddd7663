#!/usr/bin/python3
"""Install invariant checker, independent of lanzatool: reads the stubs with pefile.

Every EFI/Linux/nixos-*.efi must be a PE image whose .linux/.initrd sections name files in
EFI/nixos that exist and hash to the .linuxh/.initrdh sections. With an argument, that entry (the
previous default) must exist and be sound. Exits 1 naming each problem."""
import hashlib
import os
import sys

import pefile


def sections(path):
    pe = pefile.PE(path, fast_load=True)
    found = {}
    for s in pe.sections:
        name = s.Name.rstrip(b"\0").decode("ascii", "replace")
        found[name] = s.get_data()[: s.Misc_VirtualSize]
    return found


def check(esp, name):
    path = os.path.join(esp, "EFI", "Linux", name)
    try:
        s = sections(path)
    except Exception as e:  # a torn or truncated stub is exactly what must never happen
        return [f"{path}: not a PE image: {e}"]
    problems = []
    for target, pin in ((".linux", ".linuxh"), (".initrd", ".initrdh")):
        if target not in s:
            if target == ".linux":
                problems.append(f"{path}: no .linux")
            continue
        ref = s[target].decode()
        if not ref.startswith("\\EFI\\nixos\\") or pin not in s or len(s[pin]) != 32:
            problems.append(f"{path}: {target} is {ref!r} without a proper {pin}")
            continue
        file = os.path.join(esp, "EFI", "nixos", ref[len("\\EFI\\nixos\\"):])
        if not os.path.isfile(file):
            problems.append(f"{path}: {file} is missing")
        elif hashlib.sha256(open(file, "rb").read()).digest() != s[pin]:
            problems.append(f"{path}: {file} does not match {pin}")
    return problems


def main():
    esp = sys.argv[1]
    linux = os.path.join(esp, "EFI", "Linux")
    names = sorted(n for n in os.listdir(linux) if n.startswith("nixos-")) if os.path.isdir(linux) else []
    problems = [p for n in names for p in check(esp, n)]
    for required in sys.argv[2:]:
        if required not in names:
            problems.append(f"previous default {required} is gone")
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()

#!/usr/bin/env python3
"""sd-cpio.py TARGET_DIR DIR_MODE FILE_MODE FILE...: print to stdout the cpio archive systemd-stub builds for
companion files (systemd-stub-spec.md §2.2), written from the format description, not from our stub's code:
newc headers with 8 lowercase hex digits, inodes from 1, one entry per component of TARGET_DIR (leading ones
0555, the last DIR_MODE), then the files sorted by name (FILE_MODE), mtime 0, each name and content padded to
4 bytes from the start of the archive, and the fixed 124-byte trailer."""
import os
import sys

out = bytearray()


def pad():
    out.extend(b"\0" * (-len(out) % 4))


def entry(ino, mode, name, data=b""):
    name = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
    out.extend(b"070701" + b"".join(b"%08x" % f for f in fields) + name)
    pad()
    out.extend(data)
    pad()


target, dir_mode, file_mode = sys.argv[1], int(sys.argv[2], 8), int(sys.argv[3], 8)
ino = 0
parts = target.split("/")
for i in range(len(parts)):
    ino += 1
    entry(ino, 0o040000 | (dir_mode if i == len(parts) - 1 else 0o555), "/".join(parts[: i + 1]))
for path in sorted(sys.argv[4:], key=os.path.basename):
    ino += 1
    with open(path, "rb") as f:
        entry(ino, 0o100000 | file_mode, target + "/" + os.path.basename(path), f.read())
out.extend(b"070701" + b"00000000" * 4 + b"00000001" + b"00000000" * 6 + b"0000000B" + b"00000000")
out.extend(b"TRAILER!!!\0\0\0\0")
sys.stdout.buffer.write(out)

#!/usr/bin/env python3
"""mk-kernel.py FILE: give FILE (at least 8 KiB, e.g. random bytes) the headers of a minimal x86-64 EFI
application the stub's loader accepts, in place and keeping its size: one .text section holding the
file's bytes from 0x400, entry point at its start, MajorImageVersion 1, NX_COMPAT, 4 KiB sections. It
stands in for a kernel in tests that install but never boot. Written with struct from the PE/COFF
specification, not with our own PE code."""
import struct
import sys

HEADERS = 0x400
SECTION_ALIGNMENT, FILE_ALIGNMENT = 0x1000, 0x200

path = sys.argv[1]
with open(path, "r+b") as f:
    data = bytearray(f.read())
    if len(data) < 2 * SECTION_ALIGNMENT:
        sys.exit(f"{path}: too small for a kernel stand-in")
    raw = (len(data) - HEADERS) // FILE_ALIGNMENT * FILE_ALIGNMENT
    image = SECTION_ALIGNMENT + (raw + SECTION_ALIGNMENT - 1) // SECTION_ALIGNMENT * SECTION_ALIGNMENT
    hdr = bytearray(HEADERS)
    hdr[0:2] = b"MZ"
    struct.pack_into("<I", hdr, 0x3C, 0x40)
    hdr[0x40:0x44] = b"PE\0\0"
    # COFF: AMD64, one section, optional header of 112 + 16 * 8 bytes, executable | large address aware
    struct.pack_into("<HHIIIHH", hdr, 0x44, 0x8664, 1, 0, 0, 0, 112 + 16 * 8, 0x0022)
    opt = 0x58
    struct.pack_into("<HBBIIIII", hdr, opt, 0x20B, 0, 0, raw, 0, 0, SECTION_ALIGNMENT, SECTION_ALIGNMENT)
    struct.pack_into("<QII", hdr, opt + 24, 0, SECTION_ALIGNMENT, FILE_ALIGNMENT)
    # OS, image (1.0: "EFI stub 1.0", Linux 5.8+), subsystem versions; Win32VersionValue
    struct.pack_into("<HHHHHHI", hdr, opt + 40, 0, 0, 1, 0, 0, 0, 0)
    # SizeOfImage, SizeOfHeaders, CheckSum, Subsystem EFI application, DllCharacteristics NX | dynamic | HEVA
    struct.pack_into("<IIIHH", hdr, opt + 56, image, HEADERS, 0, 10, 0x0160)
    struct.pack_into("<QQQQII", hdr, opt + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    sec = opt + 112 + 16 * 8
    struct.pack_into("<8sIIIIIIHHI", hdr, sec, b".text", raw, SECTION_ALIGNMENT, raw, HEADERS, 0, 0, 0, 0,
                     0x60000020)
    data[:HEADERS] = hdr
    f.seek(0)
    f.write(data)

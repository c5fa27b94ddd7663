#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Add boot options and a one-shot systemd-boot entry to an OVMF variable store (a test fixture: the
firmware, which reads the store, decides what boots; nothing of ours judges the result).

ovmf-vars.py VARS --partuuid=UUID --part-start=LBA --part-size=SECTORS [--oneshot=ENTRY] PATH...

Each PATH (e.g. \\EFI\\systemd\\systemd-bootx64.efi) becomes an active Boot#### option (Boot0100, Boot0101,
...) on the GPT partition UUID, in that order at the front of BootOrder; --oneshot sets systemd-boot's
LoaderEntryOneShot. Layout (EDK2 MdeModulePkg/Include/Guid/VariableFormat.h): a firmware volume header,
the authenticated variable store header, then variables, each a 60-byte AUTHENTICATED_VARIABLE_HEADER,
its UTF-16 name and its data, 4-byte aligned, up to the first header without the 0x55AA start id. A
variable is replaced as the firmware does it: the old copy marked deleted, the new one appended.
"""
import argparse
import struct
import sys
import uuid

GLOBAL = uuid.UUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
LOADER = uuid.UUID("4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
AUTH_STORE = uuid.UUID("aaf32c78-947b-439a-a180-2e144ec37792")
NV_BS_RT = 7
VAR_ADDED, VAR_DELETED_MASK = 0x3F, 0x3C  # state after add; after delete (with IN_DELETED_TRANSITION)
HEADER = struct.Struct("<HBBIQ16sIII16s")
LOAD_OPTION_ACTIVE = 1


def fail(msg):
    sys.exit(f"ovmf-vars.py: {msg}")


def variables(store, start):
    """(offset, state, name, guid, data offset, data size) of every variable record."""
    off = start
    while off + HEADER.size <= len(store):
        sid, state, _, _, _, _, _, nsize, dsize, guid = HEADER.unpack_from(store, off)
        if sid != 0x55AA:
            return
        name = bytes(store[off + HEADER.size : off + HEADER.size + nsize]).decode("utf-16-le").rstrip("\0")
        yield off, state, name, uuid.UUID(bytes_le=guid), off + HEADER.size + nsize, dsize
        off = (off + HEADER.size + nsize + dsize + 3) & ~3


def hd_file_path(partuuid, start, size, path):
    hd = struct.pack("<BBHIQQ16sBB", 4, 1, 42, 1, start, size, partuuid.bytes_le, 2, 2)
    name = (path + "\0").encode("utf-16-le")
    file = struct.pack("<BBH", 4, 4, 4 + len(name)) + name
    return hd + file + struct.pack("<BBH", 0x7F, 0xFF, 4)


def load_option(description, device_path):
    desc = (description + "\0").encode("utf-16-le")
    return struct.pack("<IH", LOAD_OPTION_ACTIVE, len(device_path)) + desc + device_path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vars")
    ap.add_argument("--partuuid", type=uuid.UUID, required=True)
    ap.add_argument("--part-start", type=int, required=True)
    ap.add_argument("--part-size", type=int, required=True)
    ap.add_argument("--oneshot")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()

    with open(a.vars, "rb") as f:
        store = bytearray(f.read())
    if store[0x28:0x2C] != b"_FVH":
        fail(f"{a.vars}: not a firmware volume")
    hdr_len = struct.unpack_from("<H", store, 0x30)[0]
    if uuid.UUID(bytes_le=bytes(store[hdr_len : hdr_len + 16])) != AUTH_STORE:
        fail(f"{a.vars}: no authenticated variable store at {hdr_len:#x}")
    store_size = struct.unpack_from("<I", store, hdr_len + 16)[0]
    first, store_end = hdr_len + 28, hdr_len + store_size

    live = {}
    end = first
    for off, state, name, guid, doff, dsize in variables(store, first):
        if state == VAR_ADDED:
            live[(name, guid)] = (off, bytes(store[doff : doff + dsize]))
        end = (doff + dsize + 3) & ~3

    def put(name, guid, data):
        nonlocal end
        old = live.pop((name, guid), None)
        if old:
            store[old[0] + 2] = VAR_DELETED_MASK
        nm = (name + "\0").encode("utf-16-le")
        rec = HEADER.pack(0x55AA, VAR_ADDED, 0, NV_BS_RT, 0, bytes(16), 0, len(nm), len(data), guid.bytes_le)
        rec += nm + data
        if end + len(rec) > store_end:
            fail(f"{a.vars}: variable store full")
        store[end : end + len(rec)] = rec
        end = (end + len(rec) + 3) & ~3

    numbers = []
    for i, path in enumerate(a.paths):
        number = 0x100 + i
        dp = hd_file_path(a.partuuid, a.part_start, a.part_size, path)
        put(f"Boot{number:04X}", GLOBAL, load_option(f"lzbt {path}", dp))
        numbers.append(number)
    old_order = live.get(("BootOrder", GLOBAL), (0, b""))[1]
    old = [n for (n,) in struct.iter_unpack("<H", old_order) if n not in numbers]
    put("BootOrder", GLOBAL, struct.pack(f"<{len(numbers) + len(old)}H", *numbers, *old))
    if a.oneshot:
        put("LoaderEntryOneShot", LOADER, (a.oneshot + "\0").encode("utf-16-le"))

    with open(a.vars, "wb") as f:
        f.write(store)


if __name__ == "__main__":
    main()

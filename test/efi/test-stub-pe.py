#!/usr/bin/python3
"""The stub's PE shape, read by python3-pefile (not our code): an x86-64 or AArch64 EFI application, 4 KiB
sections and 512-byte file alignment, NX_COMPAT and DYNAMIC_BASE, real base relocations, an
.sbat section, room for 10 more section headers without moving data, under 100 KiB."""
import sys

import pefile

MACHINES = {"x64": ("x86-64", 0x8664), "aa64": ("AArch64", 0xAA64)}
IMAGE_SUBSYSTEM_EFI_APPLICATION = 10
DYNAMIC_BASE, NX_COMPAT = 0x0040, 0x0100
SECTION_HEADER_SIZE = 40

path = sys.argv[1]
machine_name, machine = MACHINES[sys.argv[2] if len(sys.argv) > 2 else "x64"]
data = open(path, "rb").read()
pe = pefile.PE(data=data)
opt = pe.OPTIONAL_HEADER
names = [s.Name.rstrip(b"\0").decode() for s in pe.sections]
table_end = pe.DOS_HEADER.e_lfanew + 4 + 20 + pe.FILE_HEADER.SizeOfOptionalHeader + SECTION_HEADER_SIZE * len(names)
room = (min(opt.SizeOfHeaders, min(s.PointerToRawData for s in pe.sections if s.SizeOfRawData)) - table_end) // 40
relocs = sum(len(b.entries) for b in getattr(pe, "DIRECTORY_ENTRY_BASERELOC", []))
checks = {
    f"machine {machine_name}": pe.FILE_HEADER.Machine == machine,
    "subsystem EFI application": opt.Subsystem == IMAGE_SUBSYSTEM_EFI_APPLICATION,
    "SectionAlignment 0x1000": opt.SectionAlignment == 0x1000,
    "FileAlignment 0x200": opt.FileAlignment == 0x200,
    "NX_COMPAT and DYNAMIC_BASE": opt.DllCharacteristics & (NX_COMPAT | DYNAMIC_BASE) == NX_COMPAT | DYNAMIC_BASE,
    f".reloc with {relocs} relocations": ".reloc" in names and relocs > 0,
    ".sbat section": ".sbat" in names,
    f"room for {room} more section headers (>= 10)": room >= 10,
    f"size {len(data)} bytes (< 100 KiB)": len(data) < 100 * 1024,
}
for what, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(checks.values()) else 1)

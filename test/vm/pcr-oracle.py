#!/usr/bin/python3
"""Expected PCR values, computed without lanzatool: python's hashlib over what pefile reads from the stub and
the ESP, the TCG event log parsed here, Authenticode digests from pesign -h.

pcr-oracle.py pcr11 ESP STUB [BANK [PHASES]]
    PCR 11 (BANK: sha1, sha256 (the default), sha384, sha512) after our stub measured its sections: for each
    section in systemd's canonical order (systemd-stub-spec.md §1.1: .linux .osrel .cmdline .initrd .ucode
    .splash .dtb .uname .sbat .pcrpkey), extend with the hash of its name and NUL, then of its contents;
    .linux and .initrd of an external-mode stub are the ESP files they name. PHASES (e.g.
    enter-initrd:leave-initrd) extends with each word after that, as systemd-pcrphase does.
pcr-oracle.py pcr4 EVENTLOG [IMAGE...]
    sha256 PCR 4 replayed from a TCG2 (crypto-agile) event log; the Nth EV_EFI_BOOT_SERVICES_APPLICATION
    event's digest replaced by pesign's Authenticode digest of the Nth IMAGE (to predict a boot of other
    images). With no IMAGE, the plain replay; "-" keeps that event's digest."""
import hashlib
import os
import struct
import subprocess
import sys

import pefile

ORDER = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey")
EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003
TPM_ALG_SHA256 = 0x000B


def extend(pcr, data, bank="sha256"):
    return hashlib.new(bank, pcr + hashlib.new(bank, data).digest()).digest()


def pcr11(esp, stub, bank="sha256", phases=""):
    pe = pefile.PE(stub, fast_load=True)
    sections = {s.Name.rstrip(b"\0").decode("ascii", "replace"): s.get_data()[: s.Misc_VirtualSize]
                for s in pe.sections}
    pcr = bytes(hashlib.new(bank).digest_size)
    for name in ORDER:
        if name not in sections:
            continue
        data = sections[name]
        if name in (".linux", ".initrd") and data.startswith(b"\\EFI\\"):
            data = open(os.path.join(esp, *data.decode().strip("\0").split("\\")[1:]), "rb").read()
        if not data:
            continue  # systemd skips empty sections
        pcr = extend(pcr, name.encode() + b"\0", bank)
        pcr = extend(pcr, data, bank)
    for word in phases.split(":") if phases else []:
        pcr = extend(pcr, word.encode(), bank)
    return pcr


def events(log):
    """(pcr, type, sha256 digest) of every TCG_PCR_EVENT2 after the TCG_PCR_EVENT header."""
    pos = 0
    _, _, _, size = struct.unpack_from("<II20sI", log, pos)
    spec = log[pos + 32:pos + 32 + size]
    pos += 32 + size
    assert spec.startswith(b"Spec ID Event03\0"), "not a crypto-agile event log"
    n_algs = struct.unpack_from("<I", spec, 24)[0]
    sizes = dict(struct.unpack_from("<HH", spec, 28 + 4 * i) for i in range(n_algs))
    while pos + 12 <= len(log):
        pcr, etype, count = struct.unpack_from("<III", log, pos)
        pos += 12
        if etype == 0 and count == 0:
            break  # the log's zero padding
        digest = None
        for _ in range(count):
            alg = struct.unpack_from("<H", log, pos)[0]
            if alg == TPM_ALG_SHA256:
                digest = log[pos + 2:pos + 2 + sizes[alg]]
            pos += 2 + sizes[alg]
        size = struct.unpack_from("<I", log, pos)[0]
        pos += 4 + size
        yield pcr, etype, digest


def pesign_digest(path):
    out = subprocess.run(["pesign", "-h", "-d", "sha256", "-i", path], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return bytes.fromhex(out.split("hash:")[1].split()[0])


def pcr4(log_path, images):
    pcr, app = bytes(32), 0
    for index, etype, digest in events(open(log_path, "rb").read()):
        if index != 4:
            continue
        if etype == EV_EFI_BOOT_SERVICES_APPLICATION:
            if app < len(images) and images[app] != "-":
                digest = pesign_digest(images[app])
            app += 1
        pcr = hashlib.sha256(pcr + digest).digest()
    if app < len(images):
        sys.exit(f"the log has {app} application events, {len(images)} images given")
    return pcr


def main():
    if sys.argv[1] == "pcr11" and 4 <= len(sys.argv) <= 6:
        print(pcr11(*sys.argv[2:]).hex())
    elif sys.argv[1] == "pcr4" and len(sys.argv) >= 3:
        print(pcr4(sys.argv[2], sys.argv[3:]).hex())
    else:
        sys.exit(__doc__)


main()

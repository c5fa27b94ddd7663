#!/usr/bin/python3
"""Judges `fsck.fat -n` output on an ESP image cut by a power loss during `lanzatool install`.

Allowed: what any power cut on FAT may leave and fsck.fat reclaims without touching a file (the
dirty bit, a stale free-cluster count, lost cluster chains), and any complaint about a temporary
file (.lzbt-*), which lanzatool never references. Everything else fails: a problem with a file a
boot entry or the firmware may use, shared (cross-linked) clusters, an unknown message. Prints the
offending lines; exits 1 if there are any."""
import re
import sys

TOP_LEVEL_OK = [
    r"fsck\.fat \d",
    r"Dirty bit is set\. Fs was not properly unmounted",
    r" *Automatically removing dirty bit\.",
    r"Free cluster summary (wrong|uninitialized)",
    r" *Auto-correcting\.",
    r"Reclaimed \d+ unused clusters? \(\d+ bytes\)",
    r"Leaving filesystem unchanged\.",
    r"There are differences between boot sector and its backup\.",
    r"This is mostly harmless\.",
    r"\s+\d+:[0-9a-f]{2}/[0-9a-f]{2}$",  # a byte differing between the boot sector and its backup
    r"\s+Not automatically fixing this\.",
    r".*: \d+ files?, \d+/\d+ clusters",
]
TEMP = ".lzbt-"


def main():
    lines = open(sys.argv[1], errors="replace").read().splitlines()
    bad, subject = [], None
    for line in lines:
        if not line.strip():
            continue
        if re.match(r".*: \d+ files?, \d+/\d+ clusters$", line):
            continue
        if line.startswith("/"):  # a file the following indented lines are about
            subject = line
            if TEMP not in line:
                bad.append(line)
            continue
        if line.startswith(" ") and subject is not None:
            if "share clusters" in line or (TEMP not in subject and TEMP not in line):
                bad.append(f"{subject}: {line.strip()}")
            elif line.strip().startswith("/") and TEMP not in line:
                bad.append(line)  # the other file of a pair
            continue
        subject = None
        if line.startswith("Orphaned long file name part") and "lzbt" in line:
            continue
        if not any(re.match(p, line) for p in TOP_LEVEL_OK):
            bad.append(line)
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)


main()

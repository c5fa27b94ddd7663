#!/usr/bin/python3
"""Checks the order of lanzatool's file-system calls on the ESP, from `strace -y` output.

usage: check-fs-order.py TRACE ESP

The rules are the write protocol that keeps a FAT ESP bootable through a power loss (lanzatool's
fs-util.c argues each against Linux vfat):
 - no file other than a temporary (.lzbt-*) is ever opened for writing: content reaches a name
   only by rename;
 - every rename(tmp, name) is followed, before the next change on the ESP, by an fsync of name's
   directory and then an fsync of name itself (the one that writes name's slot);
 - a rename over an existing name holds the old file open from before the rename until after
   that fsync of name (so that vfat does not free the old clusters while the slot points there);
 - every mkdir is followed by an fsync of its parent before anything is created inside;
 - nothing but a temporary file is removed before an fsync since the last change (the flush that
   made its successor durable); the two systemd-boot copies are renamed in separate flush epochs.
Prints each violation; exits 1 if there are any, 2 if the trace shows no ESP activity at all."""
import os
import re
import sys

FD = r"(?:\d+|AT_FDCWD)<([^>]*)>"
STR = r'"((?:[^"\\]|\\.)*)"'
CALLS = {
    "openat": re.compile(rf"openat\({FD}, {STR}, ([A-Z_|0-9]+)(?:, \d+)?\)\s+= (-?\d+)"),
    "renameat": re.compile(rf"renameat2?\({FD}, {STR}, {FD}, {STR}(?:, \w+)?\)\s+= (-?\d+)"),
    "unlinkat": re.compile(rf"unlinkat\({FD}, {STR}, \w+\)\s+= (-?\d+)"),
    "mkdirat": re.compile(rf"mkdirat\({FD}, {STR}, \w+\)\s+= (-?\d+)"),
    "sync": re.compile(rf"(fsync|fdatasync|syncfs)\({FD}\)\s+= 0"),
    "close": re.compile(r"close\((\d+)(?:<([^>]*)>)?\)\s+= 0"),
}
TEMP = ".lzbt-"
SDBOOT = ("EFI/systemd/systemd-bootx64.efi", "EFI/BOOT/BOOTX64.EFI")


def parse(line):
    line = re.sub(r"^\d+ +", "", line)
    for kind, rx in CALLS.items():
        m = rx.match(line)
        if m:
            return kind, m.groups()
    return None, None


def clean(path):
    return path[: -len(" (deleted)")] if path.endswith(" (deleted)") else path


class Checker:
    def __init__(self, esp):
        self.esp = os.path.realpath(esp)
        self.problems = []
        self.activity = 0
        self.pending = None  # (name, needs) after a rename: the fsyncs still owed
        self.held = {}  # fd -> path of an old file held open over a rename
        self.last_open = None  # (path, fd or None) of the latest read-only open on the ESP
        self.pending_dirs = {}  # directory made -> its parent, until the parent is fsynced
        self.dirty = False  # a change on the ESP since the last fsync
        self.sdboot_epoch = {}  # systemd-boot copy -> epoch of its rename
        self.epoch = 0

    def on_esp(self, path):
        return path == self.esp or path.startswith(self.esp + "/")

    def rel(self, path):
        return os.path.relpath(path, self.esp)

    def bad(self, n, message):
        self.problems.append(f"line {n}: {message}")

    def change(self, n, path, what, write=True):
        """A change of path; write: one that a removal must wait for (not a removal itself)."""
        if self.pending:
            missing = " and ".join(self.pending[1])
            self.bad(n, f"{what} before {self.rel(self.pending[0])} was made durable ({missing} missing)")
            self.pending = None
        for d in list(self.pending_dirs):
            if path.startswith(d + "/"):
                self.bad(n, f"{what} inside {self.rel(d)} before its parent was fsynced")
                del self.pending_dirs[d]
        self.dirty = self.dirty or write
        self.activity += 1

    def openat(self, n, dirpath, name, flags, result):
        path = os.path.normpath(os.path.join(dirpath, name))
        if not self.on_esp(path):
            return
        writes = any(f in flags for f in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"))
        if writes:
            if not os.path.basename(path).startswith(TEMP):
                self.bad(n, f"{self.rel(path)} opened for writing in place ({flags})")
            self.change(n, path, f"creation of {self.rel(path)}")
        elif "O_DIRECTORY" not in flags:
            self.last_open = (path, int(result) if int(result) >= 0 else None)

    def renameat(self, n, fromdir, old, todir, new, result):
        src, dst = os.path.join(fromdir, old), os.path.normpath(os.path.join(todir, new))
        if not self.on_esp(dst) or int(result) < 0:
            return
        self.change(n, dst, f"rename to {self.rel(dst)}")
        if not os.path.basename(src).startswith(TEMP):
            self.bad(n, f"rename of {self.rel(src)}, not of a temporary file")
        if not self.last_open or self.last_open[0] != dst:
            self.bad(n, f"rename to {self.rel(dst)} without first opening what it replaces")
        elif self.last_open[1] is not None:
            self.held[self.last_open[1]] = dst
        self.last_open = None
        self.pending = (dst, ["fsync of its directory", "fsync of the file"])
        rel = self.rel(dst)
        if rel in SDBOOT:
            self.sdboot_epoch[rel] = self.epoch

    def unlinkat(self, n, dirpath, name, result):
        path = os.path.normpath(os.path.join(dirpath, name))
        if not self.on_esp(path) or int(result) < 0:
            return
        if not name.startswith(TEMP) and self.dirty:
            self.bad(n, f"{self.rel(path)} removed with no fsync since the last change")
        self.change(n, path, f"removal of {self.rel(path)}", write=False)

    def mkdirat(self, n, dirpath, name, result):
        path = os.path.normpath(os.path.join(dirpath, name))
        if not self.on_esp(path) or int(result) < 0:
            return
        self.change(n, path, f"mkdir {self.rel(path)}")
        self.pending_dirs[path] = os.path.dirname(path)

    def sync(self, n, call, path):
        path = clean(path)
        if not self.on_esp(path):
            return
        self.dirty = False
        self.epoch += 1
        for d, parent in list(self.pending_dirs.items()):
            if parent == path:
                del self.pending_dirs[d]
        if self.pending:
            name, needs = self.pending
            if path == os.path.dirname(name) and needs and needs[0] == "fsync of its directory":
                needs.pop(0)
            elif path == name and needs == ["fsync of the file"]:
                needs.pop(0)
            if not needs:
                self.pending = None

    def close(self, n, fd, path):
        fd = int(fd)
        if fd in self.held:
            if self.pending and self.pending[0] == self.held[fd]:
                self.bad(n, f"the old {self.rel(self.held[fd])} closed before the new one was fsynced")
            del self.held[fd]

    def finish(self):
        if self.pending:
            self.problems.append(f"end: {self.rel(self.pending[0])} never made durable")
        for d in self.pending_dirs:
            self.problems.append(f"end: the parent of {self.rel(d)} never fsynced")
        if len(self.sdboot_epoch) == 2 and len(set(self.sdboot_epoch.values())) != 2:
            self.problems.append("both systemd-boot copies renamed in one flush epoch")


def main():
    trace, esp = sys.argv[1], sys.argv[2]
    c = Checker(esp)
    for n, line in enumerate(open(trace, errors="replace"), 1):
        kind, args = parse(line.rstrip("\n"))
        if kind == "openat":
            c.openat(n, *args)
        elif kind == "renameat":
            c.renameat(n, args[0], args[1], args[2], args[3], args[4])
        elif kind == "unlinkat":
            c.unlinkat(n, *args)
        elif kind == "mkdirat":
            c.mkdirat(n, *args)
        elif kind == "sync":
            c.sync(n, *args)
        elif kind == "close":
            c.close(n, *args)
    c.finish()
    for p in c.problems:
        print(p, file=sys.stderr)
    if c.activity == 0:
        print(f"{trace}: no change on {esp} traced", file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if c.problems else 0)


main()

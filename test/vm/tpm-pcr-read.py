#!/usr/bin/python3
"""Reads sha256 PCRs straight from swtpm, for guests whose kernel has no driver for the emulated TPM
(Debian's arm64 kernels lack tpm_tis, the only TPM interface QEMU virt offers).

Usage: tpm-pcr-read.py CTRL_SOCKET PCR...; prints "PCRn=<hex>" lines. QEMU must be gone (killed, not shut
down: QEMU's orderly exit sends CMD_SHUTDOWN, which ends swtpm and its PCRs) and swtpm started without
--terminate. As QEMU does, we hand swtpm one end of a socket pair as its data channel (CMD_SET_DATAFD) and
send TPM2_PCR_Read (TPM 2.0 Library Part 3 §22.4) there."""
import array
import socket
import struct
import sys

CMD_SET_DATAFD = 16  # swtpm's ctrl protocol (swtpm_ioctl.h / QEMU's tpm_ioctl.h)
TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ, TPM_ALG_SHA256 = 0x8001, 0x17E, 0x000B


def pcr_read(data, pcr):
    select = bytearray(3)
    select[pcr // 8] |= 1 << (pcr % 8)
    body = struct.pack(">IHB", 1, TPM_ALG_SHA256, len(select)) + bytes(select)
    data.sendall(struct.pack(">HII", TPM_ST_NO_SESSIONS, 10 + len(body), TPM_CC_PCR_READ) + body)
    rsp = b""
    while len(rsp) < 10 or len(rsp) < struct.unpack(">I", rsp[2:6])[0]:
        chunk = data.recv(4096)
        if not chunk:
            sys.exit(f"PCR{pcr}: swtpm closed the data channel")
        rsp += chunk
    tag, size, code = struct.unpack(">HII", rsp[:10])
    if code != 0:
        sys.exit(f"PCR{pcr}: TPM2_PCR_Read failed with 0x{code:x}")
    # pcrUpdateCounter, the TPML_PCR_SELECTION echoed back, then a TPML_DIGEST of one TPM2B_DIGEST.
    offset = 10 + 4 + 4 + 2 + 1 + rsp[10 + 4 + 4 + 2]
    (count,) = struct.unpack(">I", rsp[offset : offset + 4])
    (length,) = struct.unpack(">H", rsp[offset + 4 : offset + 6])
    if count != 1 or length != 32:
        sys.exit(f"PCR{pcr}: unexpected response {rsp.hex()}")
    return rsp[offset + 6 : offset + 6 + 32].hex()


ctrl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ctrl.settimeout(10)
ctrl.connect(sys.argv[1])
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
ctrl.sendmsg([struct.pack(">I", CMD_SET_DATAFD)],
             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [theirs.fileno()]))])
(result,) = struct.unpack(">I", ctrl.recv(4))
if result != 0:
    sys.exit(f"swtpm refused CMD_SET_DATAFD: 0x{result:x}")
theirs.close()
ours.settimeout(10)
for n in sys.argv[2:]:
    print(f"PCR{int(n)}={pcr_read(ours, int(n))}")

"""Raw Ethernet frames between two VFs, run inside a guest (copied there by the tests).

    python3 vf_frames.py send IFACE DST_MAC SRC_MAC COUNT
    python3 vf_frames.py recv IFACE SECONDS

``send`` writes COUNT frames of an experimental EtherType (0x88b5, IEEE 802 local) with
the given source MAC, whatever the interface's own; ``recv`` counts the frames of that
EtherType the interface receives until SECONDS pass without one, and prints the count per
source MAC as JSON.
"""

from __future__ import annotations

import json
import socket
import sys
import time

ETHERTYPE = 0x88B5


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def send(iface: str, dst: str, src: str, count: int) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((iface, 0))
        for n in range(count):
            payload = n.to_bytes(2, "big") * 23
            sock.send(mac(dst) + mac(src) + ETHERTYPE.to_bytes(2, "big") + payload)
            time.sleep(0.02)


def recv(iface: str, seconds: float) -> dict[str, int]:
    got: dict[str, int] = {}
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE)) as sock:
        sock.bind((iface, 0))
        sock.settimeout(seconds)
        try:
            while True:
                frame = sock.recv(2048)
                src = ":".join(f"{b:02x}" for b in frame[6:12])
                got[src] = got.get(src, 0) + 1
        except TimeoutError:
            return got


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        print(json.dumps(recv(sys.argv[2], float(sys.argv[3]))))

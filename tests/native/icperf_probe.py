"""Test-only traffic tool, run inside a namespace: crafts icperf payloads that the
generators never send (out of order, duplicated, foreign, malformed) and captures what a
sender really puts on the wire. Answers in JSON on stdout."""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time
from typing import Any

MAGIC = 0x69637066
HEADER = struct.Struct("<QQI")  # seq, timestamp ns, magic (docs/records.md)


def payload(seq: int, size: int = 22, magic: int = MAGIC) -> bytes:
    head = HEADER.pack(seq, 0, magic)
    return head + bytes(max(0, size - len(head)))


def udp_datagram(token: str) -> bytes:
    """ "7" is a valid payload with seq 7, "magic:7" the same with a wrong magic,
    "short" a datagram too small to hold the header."""
    if token == "short":
        return b"icpf-short"
    if token.startswith("magic:"):
        return payload(int(token[6:]), magic=0xDEADBEEF)
    return payload(int(token))


def pin_self() -> None:
    # One CPU: consecutive datagrams take the same backlog queue, so they stay in order.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def cmd_udp_inject(a: argparse.Namespace) -> dict[str, Any]:
    pin_self()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tokens = a.seqs.split(",")
    for token in tokens:
        sock.sendto(udp_datagram(token), (a.dst, a.port))
        time.sleep(0.001)
    return {"sent": len(tokens)}


def checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, dport: int, body: bytes) -> bytes:
    udp_len = 8 + len(body)
    ip = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + udp_len,
            0,
            0x4000,
            64,
            17,
            0,
            socket.inet_aton(src_ip),
            socket.inet_aton(dst_ip),
        )
    )
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    udp = struct.pack("!HHHH", dport, dport, udp_len, 0)
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00" + bytes(ip) + udp + body


def cmd_raw_inject(a: argparse.Namespace) -> dict[str, Any]:
    """Frames from a JSON list of {"seq", and optionally "dst_mac", "dst_ip", "port",
    "magic"} overriding the correct values."""
    pin_self()
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((a.iface, 0))
    specs = json.loads(a.frames)
    for spec in specs:
        body = payload(spec["seq"], size=22, magic=spec.get("magic", MAGIC))
        sock.send(
            frame(
                a.src_mac,
                spec.get("dst_mac", a.dst_mac),
                a.src_ip,
                spec.get("dst_ip", a.dst_ip),
                spec.get("port", a.port),
                body,
            )
        )
        time.sleep(0.001)
    return {"sent": len(specs)}


def cmd_capture(a: argparse.Namespace) -> dict[str, Any]:
    """Receives icperf datagrams until `idle` seconds pass without one (after the first).
    Each packet: seq, timestamp, magic ok, -c pattern ok, payload zero, arrival time (ns of
    this probe's CLOCK_MONOTONIC)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
    sock.bind((a.ip, a.port))
    print(json.dumps({"ready": True}), flush=True)
    packets: list[list[Any]] = []
    sock.settimeout(a.wait)
    try:
        while len(packets) < a.max:
            data = sock.recv(2048)
            arrived = time.monotonic_ns()
            seq, ts, magic = HEADER.unpack_from(data)
            rest = data[HEADER.size :]
            pattern = bytes((seq + j) & 0xFF for j in range(len(rest)))
            packets.append([seq, ts, magic == MAGIC, rest == pattern, not any(rest), arrived])
            sock.settimeout(a.idle)
    except TimeoutError:
        pass
    return {"packets": packets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udp-inject")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--seqs", required=True)
    p = sub.add_parser("raw-inject")
    for name in ("--iface", "--src-mac", "--dst-mac", "--src-ip", "--dst-ip", "--frames"):
        p.add_argument(name, required=True)
    p.add_argument("--port", type=int, default=9000)
    p = sub.add_parser("capture")
    p.add_argument("--ip", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--max", type=int, default=1_000_000)
    p.add_argument("--wait", type=float, default=10.0)
    p.add_argument("--idle", type=float, default=0.5)
    a = parser.parse_args()
    handlers = {"udp-inject": cmd_udp_inject, "raw-inject": cmd_raw_inject, "capture": cmd_capture}
    print(json.dumps(handlers[a.cmd](a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

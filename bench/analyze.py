#!/usr/bin/env python3
"""Numbers for the SIPp load scripts in bench/ (standard library only).

  analyze.py stat STAT.csv          -> "ok=N failed=N retrans=N" from SIPp -trace_stat
  analyze.py rtt RTT.csv...         -> "n=N p50=X p99=X max=X" (ms) from SIPp -trace_rtt
  analyze.py pcap FILE.pcap PORT    -> INVITE->200 and INVITE->100 times (ms, microsecond
                                       precision) seen on the wire at the server's port

SIPp stamps response times with a 1 ms clock, so its p50 reads 0 when setup takes under
a millisecond; the pcap mode measures from packet timestamps instead.
"""

import csv
import struct
import sys


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least p% of the samples at or below it.
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def stat(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=";") if r]
    if len(rows) < 2:
        sys.exit(f"{path}: no statistics rows (did SIPp run?)")
    last = dict(zip(rows[0], rows[-1]))

    def num(key):
        try:
            return int(float(last.get(key, "0") or 0))
        except ValueError:
            return 0

    print(
        f"ok={num('SuccessfulCall(C)')} failed={num('FailedCall(C)')} "
        f"retrans={num('Retransmissions(C)')} created={num('TotalCallCreated')}"
    )


def rtt(paths):
    values = []
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) >= 3 and row[2].strip() == "1":
                    try:
                        values.append(float(row[1]))
                    except ValueError:
                        pass
    values.sort()
    print(
        f"n={len(values)} p50={percentile(values, 50):g} "
        f"p99={percentile(values, 99):g} max={values[-1] if values else float('nan'):g}"
    )


def packets(path):
    """Yields (timestamp_s, src_port, dst_port, payload) of UDP/IPv4 packets."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            sys.exit(f"{path}: not a pcap file")
        scale = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        link_len = {1: 14, 113: 16, 276: 20, 0: 4, 101: 0}.get(linktype)
        if link_len is None:
            sys.exit(f"{path}: link type {linktype} not handled")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            ip = data[link_len:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            sport, dport = struct.unpack(">HH", ip[ihl : ihl + 4])
            yield sec + frac * scale, sport, dport, ip[ihl + 8 :]


def header(payload, name):
    for line in payload.split(b"\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def pcap(path, port):
    invite_at = {}
    trying = []
    ok = []
    invites = 0
    for ts, sport, dport, payload in packets(path):
        if dport == port and payload.startswith(b"INVITE "):
            invites += 1
            cid = header(payload, b"call-id")
            if cid is not None and cid not in invite_at:
                invite_at[cid] = ts
        elif sport == port and payload.startswith(b"SIP/2.0 "):
            cseq = header(payload, b"cseq") or b""
            if not cseq.endswith(b"INVITE"):
                continue
            cid = header(payload, b"call-id")
            start = invite_at.get(cid)
            if start is None:
                continue
            if payload.startswith(b"SIP/2.0 100"):
                trying.append((ts - start) * 1000)
            elif payload.startswith(b"SIP/2.0 200"):
                ok.append((ts - start) * 1000)
                # Count each call once (a retransmitted 200 would skew the figures).
                invite_at.pop(cid, None)
    ok.sort()
    trying.sort()
    print(
        f"calls={len(ok)} invites_seen={invites} "
        f"ok_p50={percentile(ok, 50):.3f} ok_p90={percentile(ok, 90):.3f} "
        f"ok_p99={percentile(ok, 99):.3f} ok_max={ok[-1] if ok else float('nan'):.3f} "
        f"trying_p50={percentile(trying, 50):.3f}"
    )


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "stat":
        stat(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "rtt":
        rtt(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "pcap":
        pcap(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Numbers for bench/media_load.sh (standard library only).

  analyze_media.py cdr CDR.jsonl
      Hotline's CDRs (`hotline calls list --json`): how calls ended, RTP loss and jitter
      Hotline measured on the caller's stream, MOS, digits, recordings. One line of
      key=value pairs.

  analyze_media.py peak STAT.csv
      The most calls SIPp had up at once (CurrentCall in its -trace_stat file).

  analyze_media.py rtp CAPTURE.pcap HOTLINE_LO-HI [RTPENGINE_LO-HI]
      A capture of RTP on lo (sampled by SSRC, see media_load.sh). Each packet is put in
      a flow (source, destination, SSRC) and each flow in a hop by its ports: into or out
      of Hotline's RTP range, into or out of rtpengine's, anything else is SIPp. Per hop:
      flows, packets, packets missing from the sequence, and timing against the RTP
      clock (RFC 3550: D = arrival gap - timestamp gap): the RFC 3550 jitter of each flow
      (p99 over flows) and |D| of each packet (p99 over packets, in ms). A relay's added
      jitter is its output's |D| p99 minus its input's, on the same packets (rtpengine
      keeps SSRC and sequence), and its forwarding delay pairs each packet in with the
      same packet out. Hotline's output is a new stream (its own SSRC and clock), so its
      |D| is the jitter it adds by itself. One key=value line per hop, then the relay's.

Packets on lo are stamped when sent, so a hop's timing is its sender's schedule.
"""

import json
import struct
import sys

# An RTP timestamp jump this far from the arrival gap is a new segment of the stream
# (SIPp restarts its clock when it switches files), not jitter.
RESYNC_MS = 500.0


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least p% of the samples at or below it.
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def fmt(x, digits=3):
    return "nan" if x != x else f"{x:.{digits}f}"


def cdr(path):
    calls = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                calls.append(json.loads(line))
    ended = [c for c in calls if c.get("state") == "ended"]
    sides = {}
    for c in ended:
        side = c.get("hangup_side") or "none"
        sides[side] = sides.get(side, 0) + 1
    loss = sorted(c["loss_pct"] for c in ended if c.get("loss_pct") is not None)
    jitter = sorted(c["jitter_ms"] for c in ended if c.get("jitter_ms") is not None)
    mos = sorted(c["mos"] for c in ended if c.get("mos") is not None)
    durations = sorted(c["duration_s"] for c in ended if c.get("duration_s") is not None)
    # Causes other than the caller's BYE, with counts (spaces would break key=value).
    causes = {}
    for c in ended:
        if c.get("hangup_side") != "caller":
            cause = (c.get("hangup_cause") or "?").replace(" ", "_")
            causes[cause] = causes.get(cause, 0) + 1
    print(
        f"calls={len(calls)} ended={len(ended)} "
        f"by_caller={sides.get('caller', 0)} by_hotline={sides.get('hotline', 0)} "
        f"by_system={sides.get('system', 0)} "
        f"loss_mean_pct={fmt(sum(loss) / len(loss) if loss else float('nan'), 4)} "
        f"loss_max_pct={fmt(loss[-1] if loss else float('nan'), 4)} "
        f"calls_with_loss={sum(1 for v in loss if v > 0)} "
        f"jitter_p50_ms={fmt(percentile(jitter, 50))} jitter_p99_ms={fmt(percentile(jitter, 99))} "
        f"jitter_max_ms={fmt(jitter[-1] if jitter else float('nan'))} "
        f"mos_min={fmt(mos[0] if mos else float('nan'), 2)} "
        f"mos_p50={fmt(percentile(mos, 50), 2)} "
        f"duration_min_s={durations[0] if durations else 'nan'} "
        f"duration_max_s={durations[-1] if durations else 'nan'} "
        f"with_digits={sum(1 for c in ended if c.get('digits'))} "
        f"recorded={sum(1 for c in ended if c.get('recording'))} "
        f"other_causes={','.join(f'{k}:{v}' for k, v in sorted(causes.items())) or '-'}"
    )


def peak(path):
    best = 0
    with open(path) as f:
        header = f.readline().strip().split(";")
        if "CurrentCall" not in header:
            sys.exit(f"{path}: no CurrentCall column (is it SIPp's -trace_stat file?)")
        col = header.index("CurrentCall")
        for line in f:
            fields = line.strip().split(";")
            if len(fields) > col and fields[col].isdigit():
                best = max(best, int(fields[col]))
    print(best)


def packets(path):
    """Yields (time_s, src_port, dst_port, udp_payload) of UDP/IPv4 packets in a pcap."""
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
        rec_fmt = endian + "IIII"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(rec_fmt, rec)
            data = f.read(incl)
            ip = data[link_len:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            sport, dport = struct.unpack(">HH", ip[ihl : ihl + 4])
            yield sec + frac * scale, sport, dport, ip[ihl + 8 :]


def port_range(text):
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


class Flow:
    """One RTP stream on one hop: loss by sequence, RFC 3550 timing."""

    __slots__ = ("hop", "count", "first_seq", "max_ext", "prev", "jitter", "abs_d", "arrival")

    def __init__(self, hop):
        self.hop = hop
        self.count = 0
        self.first_seq = None
        self.max_ext = None
        self.prev = None  # (arrival_s, rtp_ts) of the last packet in order
        self.jitter = 0.0  # RFC 3550 running estimate, in ms
        self.abs_d = []  # |D| of each packet, ms
        self.arrival = {}  # seq -> arrival, for pairing a relay's in and out

    def add(self, t, seq, ts, keep_arrival):
        self.count += 1
        if keep_arrival:
            self.arrival[seq] = t
        if self.first_seq is None:
            self.first_seq = seq
            self.max_ext = seq
            self.prev = (t, ts)
            return
        # Extend the 16-bit sequence number around the highest one seen.
        ext = self.max_ext + ((seq - self.max_ext + 32768) % 65536 - 32768)
        if ext <= self.max_ext:
            return  # late or duplicate: not part of the timing chain
        self.max_ext = ext
        t0, ts0 = self.prev
        self.prev = (t, ts)
        d_ms = (t - t0) * 1000.0 - ((ts - ts0) % (1 << 32)) / 8.0  # 8 kHz clock
        if abs(d_ms) > RESYNC_MS:
            return
        self.abs_d.append(abs(d_ms))
        self.jitter += (abs(d_ms) - self.jitter) / 16.0

    def lost(self):
        if self.first_seq is None:
            return 0
        return max(0, self.max_ext - self.first_seq + 1 - self.count)


def rtp(path, hotline, rtpengine):
    def role(port):
        if hotline[0] <= port <= hotline[1]:
            return "hotline"
        if rtpengine and rtpengine[0] <= port <= rtpengine[1]:
            return "rtpengine"
        return "sipp"

    flows = {}
    for t, sport, dport, rtp_bytes in packets(path):
        if len(rtp_bytes) < 12 or rtp_bytes[0] >> 6 != 2 or 200 <= rtp_bytes[1] <= 206:
            continue
        seq, ts, ssrc = struct.unpack(">HII", rtp_bytes[2:12])
        key = (sport, dport, ssrc)
        flow = flows.get(key)
        if flow is None:
            flow = Flow(f"{role(sport)}>{role(dport)}")
            flows[key] = flow
        flow.add(t, seq, ts, rtpengine is not None)

    hops = {}
    for flow in flows.values():
        hops.setdefault(flow.hop, []).append(flow)
    order = ["sipp>hotline", "hotline>sipp", "sipp>rtpengine", "rtpengine>hotline",
             "hotline>rtpengine", "rtpengine>sipp"]
    p99_abs = {}
    for hop in order + sorted(set(hops) - set(order)):
        fl = hops.get(hop)
        if not fl:
            continue
        d = sorted(v for f in fl for v in f.abs_d)
        jit = sorted(f.jitter for f in fl)
        p99_abs[hop] = percentile(d, 99)
        print(
            f"hop={hop} flows={len(fl)} packets={sum(f.count for f in fl)} "
            f"seq_lost={sum(f.lost() for f in fl)} "
            f"jitter_p50_ms={fmt(percentile(jit, 50))} jitter_p99_ms={fmt(percentile(jit, 99))} "
            f"absd_p50_ms={fmt(percentile(d, 50))} absd_p99_ms={fmt(p99_abs[hop])} "
            f"absd_max_ms={fmt(d[-1] if d else float('nan'))}"
        )
    if rtpengine is None:
        return
    # rtpengine relays a packet unchanged (SSRC, sequence): pair its in and out copies.
    by_ssrc = {}
    for (_sport, _dport, ssrc), flow in flows.items():
        by_ssrc.setdefault(ssrc, []).append(flow)
    for into, out in (("sipp>rtpengine", "rtpengine>hotline"), ("hotline>rtpengine", "rtpengine>sipp")):
        delays = []
        for group in by_ssrc.values():
            ins = [f for f in group if f.hop == into]
            outs = [f for f in group if f.hop == out]
            for fi in ins:
                for fo in outs:
                    for seq, t_in in fi.arrival.items():
                        t_out = fo.arrival.get(seq)
                        if t_out is not None and 0 <= t_out - t_in < 1.0:
                            delays.append((t_out - t_in) * 1000.0)
        delays.sort()
        added = p99_abs.get(out, float("nan")) - p99_abs.get(into, float("nan"))
        print(
            f"relay={into}->{out} paired={len(delays)} delay_p50_ms={fmt(percentile(delays, 50))} "
            f"delay_p99_ms={fmt(percentile(delays, 99))} "
            f"delay_max_ms={fmt(delays[-1] if delays else float('nan'))} "
            f"absd_p99_added_ms={fmt(added)}"
        )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "cdr":
        cdr(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "peak":
        peak(sys.argv[2])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "rtp":
        rtpengine = port_range(sys.argv[4]) if len(sys.argv) == 5 else None
        rtp(sys.argv[2], port_range(sys.argv[3]), rtpengine)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the caller's audio for bench/media_load.sh: raw PCMA (A-law, 8 kHz, no header),
the format SIPp's <exec rtp_stream="FILE,LOOPS,8"/> plays in 20 ms packets.

  make_audio.py DIR [PCAP]

Both files start from the PCMA payload of SIPp's stock pcap (default
/usr/share/sip-tester/g711a.pcap, about 7 s of speech):
- DIR/lead.alaw: the clip twice (~14 s), no key. The caller says it while `welcome`
  plays its ~13 s greeting, which a key would interrupt (barge-in).
- DIR/caller.alaw: the clip, an in-band DTMF '1' (697 + 1209 Hz, 100 ms, -10 dBm0 per
  tone) and 200 ms of silence. SIPp loops it for the rest of the call, so the caller
  presses '1' every ~7.4 s: `welcome` restarts its 10 s digit timer on every key and
  stays up for the whole call (SIPp 3.6 cannot send RFC 4733 events from rtp_stream).
Prints the two lengths in seconds.
"""

import math
import os
import struct
import sys

RATE = 8000
TONE_MS = 100
GAP_MS = 200
# -10 dBm0 per tone; an A-law full-scale sine is +3.14 dBm0 (G.711).
TONE_AMPLITUDE = 32767 * 10 ** ((-10.0 - 3.14) / 20)


def pcma_payloads(path):
    """Yields the RTP payloads of payload type 8 (PCMA) in a pcap file, in capture order."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit(f"{path}: too short for a pcap file")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            sys.exit(f"{path}: not a pcap file (bad magic)")
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        link_len = {1: 14, 113: 16, 276: 20, 0: 4, 101: 0}.get(linktype)
        if link_len is None:
            sys.exit(f"{path}: link type {linktype} not handled")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            incl = struct.unpack(endian + "IIII", rec)[2]
            ip = f.read(incl)[link_len:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            rtp = ip[(ip[0] & 0x0F) * 4 + 8 :]
            if len(rtp) > 12 and rtp[0] >> 6 == 2 and rtp[1] & 0x7F == 8:
                yield rtp[12 + 4 * (rtp[0] & 0x0F) :]


def alaw(sample):
    """G.711 A-law code of one 16-bit linear sample (segment search, even bits inverted)."""
    sign = 0x80 if sample >= 0 else 0x00
    # Negative samples use the one's complement magnitude, as the G.711 reference does.
    mag = min(sample if sample >= 0 else -sample - 1, 32767) >> 3  # 13-bit magnitude
    if mag < 32:
        code = mag >> 1
    else:
        seg = mag.bit_length() - 5  # 1..7
        code = (seg << 4) | ((mag >> seg) & 0x0F)
    return (sign | code) ^ 0x55


def dtmf_one():
    n = RATE * TONE_MS // 1000
    tone = bytes(
        alaw(
            int(
                TONE_AMPLITUDE
                * (math.sin(2 * math.pi * 697 * i / RATE) + math.sin(2 * math.pi * 1209 * i / RATE))
            )
        )
        for i in range(n)
    )
    return tone + bytes([alaw(0)]) * (RATE * GAP_MS // 1000)


def whole_packets(audio):
    """Pads with silence to whole 20 ms packets, so every loop starts on a packet boundary."""
    return audio + bytes([alaw(0)]) * (-len(audio) % 160)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    pcap = sys.argv[2] if len(sys.argv) == 3 else "/usr/share/sip-tester/g711a.pcap"
    clip = b"".join(pcma_payloads(pcap))
    if len(clip) < RATE:
        sys.exit(f"{pcap}: less than 1 s of PCMA (payload type 8) audio found")
    lengths = []
    for name, audio in (("lead.alaw", clip + clip), ("caller.alaw", clip + dtmf_one())):
        audio = whole_packets(audio)
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(audio)
        lengths.append(f"{len(audio) / RATE:.2f}")
    print(" ".join(lengths))


if __name__ == "__main__":
    main()

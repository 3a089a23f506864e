#!/usr/bin/env bash
# Media load: N concurrent calls with RTP both ways, each CALL_SECONDS long, for each app
# and load, with rtpengine relaying the same calls as the reference (issue 3, Benchmarks).
#
# Per run (one app, one load N), fresh processes, all on 127.0.0.1:
#   SIPp (bench/media_load/uac_rtp.xml) --SIP--> Kamailio --SIP--> Hotline
#   SIPp --RTP--> rtpengine --RTP--> Hotline, and back the same way.
# Kamailio (bench/media_load/kamailio.cfg) calls rtpengine_manage() on INVITE, 200 and
# BYE, so rtpengine (userspace, --table=-1) relays every packet of every call: in the
# same run, on the same load, we read rtpengine's CPU and memory next to Hotline's.
# PATHS="rtpengine" (default) is that; "direct" drops Kamailio and rtpengine (SIPp calls
# Hotline itself); PATHS="direct rtpengine" does both runs for each app and load. On 2
# cores the relayed run saturates the machine at about 1500-2000 calls (rtpengine needs
# about a core for 1800 calls, SIPp a third): the verdict says "saturated" when the whole
# machine was >= 90 % busy, and then only the direct run's Hotline figures are clean.
#
# The caller: SIPp 3.6 rtp_stream sends PCMA in 20 ms packets (the stock g711a.pcap speech,
# then the same with an in-band DTMF '1' every ~7.4 s, which keeps `welcome` from saying
# goodbye after its 10 s digit timeout; bench/media_load/make_audio.py). Hotline answers
# with echo (the caller's audio back) or welcome (greeting, then silence frames); Hotline
# sends 50 packets/s per call back. SIPp ramps to N calls in RAMP_SECONDS (-r N -rp RAMP),
# holds them (-l N -m N), and each call sends BYE after CALL_SECONDS.
#
# Measured on the plateau (all N calls up, SETTLE_SECONDS after the ramp, for
# MEASURE_SECONDS, ending before the first call does):
#   - CPU % of one core (utime + stime from /proc/PID/stat, all threads) of Hotline,
#     rtpengine, Kamailio and SIPp; per call = Hotline's % / calls up.
#   - RSS per call: (VmRSS on the plateau - VmRSS idle before the calls) / calls up.
#   - Loss: Hotline's CDRs (loss_pct of the caller's stream, per call), datagrams the
#     kernel dropped at Hotline's and rtpengine's full socket buffers (ss skmem d), and
#     /proc/net/snmp Udp RcvbufErrors over the window (whole network namespace: minus
#     SIPp's media socket, which SIPp 3.6 never reads, so what comes back to SIPp is
#     dropped there by design).
#   - Jitter: Hotline's CDR jitter_ms (of the caller's stream it received; p99 over calls)
#     and, from a CAPTURE_SECONDS packet capture right after the CPU window (so the
#     capture's cost is not in the CPU figures), the timing of Hotline's own output
#     (|D| p99 per packet, RFC 3550 D: arrival gap - timestamp gap), i.e. the jitter
#     Hotline adds, and rtpengine's added jitter and forwarding delay on the same packets.
#     Calls are sampled by SSRC (1 in CAPTURE_SAMPLE) to keep tcpdump light.
#   - INVITE -> 200 (with SDP: media allocated) p50/p99 on the wire at Hotline's SIP port
#     (tcpdump, microseconds), and SIPp's own (through Kamailio + rtpengine, 1 ms clock).
#
# Needs root (tcpdump; apt for missing packages). Calls scripts/install-deps.sh bench.
# Results: $OUT/media_load.txt (readable) and $OUT/media_load.tsv; everything of each run
# (logs, SIPp stats, captures, CDRs) under $OUT/media_load.run/APP-N/.
#
# Knobs: LOADS="500 1000 2000", APPS="echo welcome+record" (an app name, "+record" to
# record its calls), CALL_SECONDS=60, RAMP_SECONDS (20, or a third of the call if less),
# SETTLE_SECONDS=5, MEASURE_SECONDS=25, CAPTURE_SECONDS=5, CAPTURE_SAMPLE=16 (power of 2;
# 1 = every call), PATHS="rtpengine" (or "direct", or both), NO_BUILD=1, RTP_PORTS=61000-65535 (Hotline),
# RTPENGINE_PORTS=30000-39999, SIP_PORT=46060, HTTP_PORT=46090, SIPP_PORT=46080,
# KAMAILIO_PORT=46070, NG_PORT=46222, SIPP_MEDIA_PORT=46100, SIPP_BUFF, BENCH_OUT.
# Quick check: LOADS=50 CALL_SECONDS=30 NO_BUILD=1 bash bench/media_load.sh
set -euo pipefail

# Our own port defaults (before common.sh sets its defaults); a busy one moves up.
SIP_PORT=${SIP_PORT:-46060}
HTTP_PORT=${HTTP_PORT:-46090}
SIPP_PORT=${SIPP_PORT:-46080}
. "$(dirname "$0")/common.sh"

LOADS=${LOADS:-"500 1000 2000"}
APPS=${APPS:-"echo welcome+record"}
CALL_SECONDS=${CALL_SECONDS:-60}
SETTLE_SECONDS=${SETTLE_SECONDS:-5}
MEASURE_SECONDS=${MEASURE_SECONDS:-25}
CAPTURE_SECONDS=${CAPTURE_SECONDS:-5}
CAPTURE_SAMPLE=${CAPTURE_SAMPLE:-16}
PATHS=${PATHS:-rtpengine}
KAMAILIO_PORT=${KAMAILIO_PORT:-46070}
NG_PORT=${NG_PORT:-46222}
SIPP_MEDIA_PORT=${SIPP_MEDIA_PORT:-46100}
# Above the kernel's ephemeral range (32768-60999) and other helpers' random ports: a
# port Hotline cannot bind fails the call. 2267 RTP/RTCP pairs: up to ~2200 calls.
RTP_PORTS=${RTP_PORTS:-61000-65535}
# rtpengine skips ports it cannot bind, so a shared range is fine for it. 4 per call.
RTPENGINE_PORTS=${RTPENGINE_PORTS:-30000-39999}
# The caller's first 14 s are the lead-in of uac_rtp.xml (fixed there).
LEAD_SECONDS=14
ANALYZE_MEDIA=(python3 "$ROOT/bench/analyze_media.py")
HERE="$ROOT/bench/media_load"

[ "$CALL_SECONDS" -ge 20 ] || die "CALL_SECONDS=$CALL_SECONDS: calls need at least 20 s (14 s lead-in + a plateau)"
RAMP_SECONDS=${RAMP_SECONDS:-$((CALL_SECONDS / 3 < 20 ? CALL_SECONDS / 3 : 20))}
[ "$RAMP_SECONDS" -ge 1 ] || die "RAMP_SECONDS must be at least 1"
case "$CAPTURE_SAMPLE" in 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256) ;;
*) die "CAPTURE_SAMPLE=$CAPTURE_SAMPLE: use a power of two from 1 to 256" ;;
esac
for path in $PATHS; do
    case "$path" in rtpengine | direct) ;; *) die "PATHS: unknown path '$path' (rtpengine, direct)" ;; esac
done
for app in $APPS; do
    case "${app%+record}" in echo | welcome | flow) ;; *) die "APPS: unknown app '$app' (echo, welcome, flow, each optionally +record)" ;; esac
done
rtp_lo=${RTP_PORTS%-*} rtp_hi=${RTP_PORTS#*-}
for n in $LOADS; do
    [ "$n" -ge 1 ] 2>/dev/null || die "LOADS: '$n' is not a number of calls"
    [ $(((rtp_hi - rtp_lo + 1) / 2)) -ge $((n + 20)) ] ||
        die "RTP_PORTS=$RTP_PORTS holds $(((rtp_hi - rtp_lo + 1) / 2)) calls, too few for $n: widen it (e.g. RTP_PORTS=40000-59999)"
done

# Packages (Kamailio, rtpengine, tcpdump, SIPp); idempotent, quick when all are there.
"$ROOT/scripts/install-deps.sh" bench >/dev/null || die "scripts/install-deps.sh bench failed (run it as root)"
check_tools
need tcpdump "scripts/install-deps.sh bench"
if [[ " $PATHS " == *" rtpengine "* ]]; then
    need kamailio "scripts/install-deps.sh bench"
    need rtpengine "scripts/install-deps.sh bench"
    [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/rtpengine.so ] || find /usr/lib -name rtpengine.so -path '*kamailio*' | grep -q . ||
        die "Kamailio has no rtpengine module (Debian's kamailio package ships it)"
fi
[ "$(id -u)" = 0 ] || die "needs root: tcpdump captures on lo (setup time, jitter)"

mkdir -p "$OUT"
build_release
RUN="$OUT/media_load.run"
rm -rf "$RUN"
mkdir -p "$RUN"
# Our own copy of the binary: common.sh's stop_hotline deletes its copy after each run.
cp "$HOTLINE_BIN" "$RUN/hotline"
rm -f "$HOTLINE_BIN"
HOTLINE_BIN=$RUN/hotline
read -r lead_len loop_len < <(python3 "$HERE/make_audio.py" "$RUN")
cp "$HERE/uac_rtp.xml" "$RUN/"

TSV="$OUT/media_load.tsv"
COLS=(app calls path reached sipp_peak sipp_ok sipp_failed hl_hungup hl_cpu_pct hl_cpu_pct_per_call
    hl_rss_idle_mib hl_rss_mib hl_kib_per_call cdr_loss_mean_pct cdr_calls_with_loss hl_sock_drops
    rtpe_sock_drops udp_rcvbuf_errors_other cdr_jitter_p99_ms hl_out_absd_p99_ms hl_in_absd_p99_ms
    hl_out_seq_lost setup_p50_ms setup_p99_ms sipp_rtd_p50_ms rtpe_cpu_pct rtpe_cpu_pct_per_call
    rtpe_kib_per_call cpu_ratio rtpe_delay_p99_ms rtpe_absd_p99_added_ms kam_cpu_pct sipp_cpu_pct
    machine_busy_pct window_s load1 verdict)
(
    IFS=$'\t'
    echo "${COLS[*]}"
) >"$TSV"
DETAILS="$RUN/details.txt"
: >"$DETAILS"

RTPE_PID=
KAM_PID=
SIPP_PID=
SIPDUMP_PID=
cleanup() {
    local p
    for p in "$SIPP_PID" "$SIPDUMP_PID" "$KAM_PID" "$RTPE_PID"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    stop_hotline
    for p in "$SIPP_PID" "$SIPDUMP_PID" "$KAM_PID" "$RTPE_PID"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    SIPP_PID= SIPDUMP_PID= KAM_PID= RTPE_PID=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# calc EXPR: floating-point arithmetic through awk.
calc() {
    awk "BEGIN { printf \"%.6f\", ($1) }"
}

now() {
    date +%s.%N
}

# sleep_until EPOCH: sleeps until that time (no-op when it has passed).
sleep_until() {
    local d
    d=$(calc "$1 - $(now)")
    [ "$(calc "$d > 0")" = 1.000000 ] && sleep "$d"
    return 0
}

# ticks PID...: CPU time (utime + stime, clock ticks) of these processes, all threads;
# a process that is gone counts 0.
ticks() {
    local p
    for p in "$@"; do
        { sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true; }
    done | awk '{t += $12 + $13} END {print t + 0}'
}

# rss PID: VmRSS in KiB (0 when gone).
rss() {
    { cat "/proc/$1/status" 2>/dev/null || true; } | awk '$1 == "VmRSS:" {v = $2} END {print v + 0}'
}

# Kamailio forks workers: the main process and its children.
kam_pids() {
    [ -n "$KAM_PID" ] || return 0
    echo "$KAM_PID"
    pgrep -P "$KAM_PID" 2>/dev/null || true
}

# sock_drops LO HI: datagrams dropped at full receive buffers of UDP sockets bound to
# ports LO..HI (ss skmem "d", since each socket opened).
sock_drops() {
    ss -Huamn "sport >= :$1 and sport <= :$2" 2>/dev/null | grep -o 'skmem:([^)]*)' | grep -o ',d[0-9]*' |
        tr -d ',d' | awk '{s += $1} END {print s + 0}'
}

# snmp_udp FIELD: a counter of the Udp: lines of /proc/net/snmp.
snmp_udp() {
    awk -v f="$1" '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 } else v = $col[f] }
        END {print v + 0}' /proc/net/snmp
}

# kv KEY LINE: the value of KEY=value in a line of key=value pairs ("?" when absent).
kv() {
    local v
    v=$(printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2; exit}')
    echo "${v:-?}"
}

# int_or0 VALUE: VALUE when it is a whole number, else 0.
int_or0() {
    case "$1" in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac
}

# calls_up: Hotline's active calls (0 when the health API does not answer).
calls_up() {
    int_or0 "$(active_calls 2>/dev/null || true)"
}

# wait_udp PORT PID WHAT: waits (10 s at most) until PID listens on UDP PORT.
wait_udp() {
    for _ in $(seq 1 100); do
        ss -Hlun "sport = :$1" | grep -q . && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited at start"
        sleep 0.1
    done
    die "$3 did not bind UDP port $1 within 10 s"
}

start_reference() {
    local dir=$1
    NG_PORT=$(free_port "$NG_PORT")
    KAMAILIO_PORT=$(free_port "$KAMAILIO_PORT")
    rtpengine --config-file=none --foreground --log-stderr --table=-1 --interface=127.0.0.1 \
        --listen-ng="127.0.0.1:$NG_PORT" --port-min="${RTPENGINE_PORTS%-*}" --port-max="${RTPENGINE_PORTS#*-}" \
        >"$dir/rtpengine.log" 2>&1 &
    RTPE_PID=$!
    wait_udp "$NG_PORT" "$RTPE_PID" "rtpengine (see $dir/rtpengine.log)"
    mkdir -p "$dir/kamailio"
    sed -e "s/@KAM_PORT@/$KAMAILIO_PORT/g" -e "s/@HOTLINE_PORT@/$SIP_PORT/g" -e "s/@NG_PORT@/$NG_PORT/g" \
        "$HERE/kamailio.cfg" >"$dir/kamailio/kamailio.cfg"
    kamailio -f "$dir/kamailio/kamailio.cfg" -DD -E -Y "$dir/kamailio" -P "$dir/kamailio/kamailio.pid" \
        -m 256 -M 32 >"$dir/kamailio.log" 2>&1 &
    KAM_PID=$!
    wait_udp "$KAMAILIO_PORT" "$KAM_PID" "kamailio (see $dir/kamailio.log)"
}

# cpu_busy_idle: "busy idle" jiffies of the whole machine so far (/proc/stat).
cpu_busy_idle() {
    awk '$1 == "cpu" {idle = $5 + $6; busy = 0; for (i = 2; i <= NF; i++) busy += $i; print busy - idle, idle; exit}' /proc/stat
}

# run_one APP N PATH: one run; appends a row to $TSV and a block to $DETAILS.
run_one() {
    local app=$1 n=$2 path=$3
    local base=${app%+record} record=false number
    [ "$app" != "$base" ] && record=true
    case "$base" in echo) number=9196 ;; flow) number=4008002000 ;; *) number=4008001234 ;; esac
    local dir="$RUN/${app//+/_}-$n-$path"
    mkdir -p "$dir"
    ln -sf "$RUN/lead.alaw" "$RUN/caller.alaw" "$dir/"
    echo "== $app, $n calls of ${CALL_SECONDS}s, $path ($(date -u +%H:%M:%SZ))" >&2

    # Hotline: the app on its number, no RTP timeout, recording as asked, real prompts.
    HOTLINE_TOML="prompts_dir = \"$ROOT/prompts\"
flows_dir = \"$ROOT/bench/media_load/flows\"

[media]
rtp_timeout_secs = 0
record = $record

[numbers]
default = \"welcome\"
\"9196\" = \"echo\"
\"4008002000\" = { flow = \"bench-menu\" }"
    local busy
    busy=$(ss -Huan "sport >= :$rtp_lo and sport <= :$rtp_hi" 2>/dev/null | wc -l)
    [ "$busy" = 0 ] || echo "  warning: $busy UDP ports in RTP_PORTS=$RTP_PORTS are held by other programs: a call that gets one fails" >&2
    start_hotline "$dir/hotline.log" --rtp-ports "$RTP_PORTS"
    trap cleanup EXIT
    local target=$SIP_PORT
    if [ "$path" = rtpengine ]; then
        start_reference "$dir"
        target=$KAMAILIO_PORT
    fi
    SIPP_MEDIA_PORT=$(free_port "$SIPP_MEDIA_PORT")
    sleep 1
    local hl_rss0 rtpe_rss0=0 load1
    hl_rss0=$(rss "$HOTLINE_PID")
    [ -n "$RTPE_PID" ] && rtpe_rss0=$(rss "$RTPE_PID")
    load1=$(cut -d' ' -f1 /proc/loadavg)

    # SIP on the wire at Hotline's port, for INVITE -> 200.
    tcpdump -i lo -s 2048 -B 16384 -w "$dir/sip.pcap" "udp port $SIP_PORT" >"$dir/tcpdump_sip.log" 2>&1 &
    SIPDUMP_PID=$!
    sleep 1

    local t0
    t0=$(now)
    (cd "$dir" && exec sipp -sf "$RUN/uac_rtp.xml" -s "$number" "127.0.0.1:$target" \
        -i 127.0.0.1 -mi 127.0.0.1 -p "$SIPP_PORT" -mp "$SIPP_MEDIA_PORT" -buff_size "$SIPP_BUFF" \
        -r "$n" -rp "$((RAMP_SECONDS * 1000))" -l "$n" -m "$n" -d "$(((CALL_SECONDS - LEAD_SECONDS) * 1000))" \
        -nostdin -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 10 \
        -trace_err -error_file errors.log >screen.txt 2>&1) &
    SIPP_PID=$!

    # Ramp: until Hotline holds all N calls (or the ramp is clearly over).
    local up=0 ramp_deadline
    ramp_deadline=$(calc "$t0 + $RAMP_SECONDS + 15")
    while :; do
        up=$(calls_up)
        [ "$up" -ge "$n" ] && break
        [ "$(calc "$(now) > $ramp_deadline")" = 1.000000 ] && break
        kill -0 "$SIPP_PID" 2>/dev/null || break
        sleep 0.5
    done
    local ramp_s
    ramp_s=$(calc "$(now) - $t0")
    echo "  ramp: $up of $n calls up after $(printf %.1f "$ramp_s") s" >&2

    # The plateau ends when the first calls do (t0 + CALL_SECONDS); keep 3 s clear.
    local win0 avail measure capture
    win0=$(calc "$t0 + ($ramp_s > $RAMP_SECONDS ? $ramp_s : $RAMP_SECONDS) + $SETTLE_SECONDS")
    avail=$(calc "$t0 + $CALL_SECONDS - 3 - $win0")
    capture=$(calc "($CAPTURE_SECONDS < $avail / 4) ? $CAPTURE_SECONDS : $avail / 4")
    measure=$(calc "($MEASURE_SECONDS < $avail - $capture - 1.5) ? $MEASURE_SECONDS : $avail - $capture - 1.5")
    [ "$(calc "$measure >= 2")" = 1.000000 ] ||
        die "plateau too short ($(printf %.1f "$avail") s): raise CALL_SECONDS or lower RAMP_SECONDS/SETTLE_SECONDS"
    sleep_until "$win0"

    # The CPU window.
    local conc0 conc1
    conc0=$(calls_up)
    local kp hl_t0 rtpe_t0=0 kam_t0=0 sipp_t0 w0 rb0 inerr0 noport0 sippm0
    kp=$(kam_pids)
    w0=$(now)
    hl_t0=$(ticks "$HOTLINE_PID")
    [ -n "$RTPE_PID" ] && rtpe_t0=$(ticks "$RTPE_PID")
    [ -n "$kp" ] && kam_t0=$(ticks $kp)
    sipp_t0=$(ticks "$SIPP_PID")
    rb0=$(snmp_udp RcvbufErrors) inerr0=$(snmp_udp InErrors) noport0=$(snmp_udp NoPorts)
    sippm0=$(sock_drops "$SIPP_MEDIA_PORT" "$SIPP_MEDIA_PORT")
    local mbusy0 midle0
    read -r mbusy0 midle0 < <(cpu_busy_idle)
    sleep "$measure"
    local mbusy1 midle1
    read -r mbusy1 midle1 < <(cpu_busy_idle)
    local hl_t1 rtpe_t1=0 kam_t1=0 sipp_t1 w1 rb1 inerr1 noport1 sippm1
    hl_t1=$(ticks "$HOTLINE_PID")
    [ -n "$RTPE_PID" ] && rtpe_t1=$(ticks "$RTPE_PID")
    [ -n "$kp" ] && kam_t1=$(ticks $kp)
    sipp_t1=$(ticks "$SIPP_PID")
    w1=$(now)
    rb1=$(snmp_udp RcvbufErrors) inerr1=$(snmp_udp InErrors) noport1=$(snmp_udp NoPorts)
    sippm1=$(sock_drops "$SIPP_MEDIA_PORT" "$SIPP_MEDIA_PORT")
    local hl_rss1 rtpe_rss1=0 hl_drops rtpe_drops=0
    hl_rss1=$(rss "$HOTLINE_PID")
    [ -n "$RTPE_PID" ] && rtpe_rss1=$(rss "$RTPE_PID")
    hl_drops=$(sock_drops "$rtp_lo" "$rtp_hi")
    [ -n "$RTPE_PID" ] && rtpe_drops=$(sock_drops "${RTPENGINE_PORTS%-*}" "${RTPENGINE_PORTS#*-}")
    conc1=$(calls_up)

    # RTP sample right after the CPU window, still on the plateau.
    local mask=$((CAPTURE_SAMPLE - 1))
    timeout "$capture" tcpdump -i lo -s 64 -B 65536 -w "$dir/rtp.pcap" \
        "udp and (udp[8] & 0xc0) = 0x80 and udp[9] < 200 and (udp[19] & $mask) = 0" \
        >"$dir/tcpdump_rtp.log" 2>&1 || true

    # The calls end; SIPp exits (bounded).
    local deadline sipp_rc=0
    deadline=$(calc "$t0 + $CALL_SECONDS + $RAMP_SECONDS + 60")
    while kill -0 "$SIPP_PID" 2>/dev/null; do
        if [ "$(calc "$(now) > $deadline")" = 1.000000 ]; then
            echo "  SIPp still running past its calls: stopping it" >&2
            kill "$SIPP_PID" 2>/dev/null || true
            break
        fi
        sleep 1
    done
    wait "$SIPP_PID" 2>/dev/null || sipp_rc=$?
    SIPP_PID=
    kill "$SIPDUMP_PID" 2>/dev/null || true
    wait "$SIPDUMP_PID" 2>/dev/null || true
    SIPDUMP_PID=

    # The prompt cache (flow runs): hits vs renders over the whole run.
    local tts_line=
    tts_line=$(curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/tts/stats" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); c=d.get("counters",{}); print("hit rate %.4f (%d hits, %d renders, %d failed)" % (d.get("hit_rate",0), c.get("hits",0), c.get("renders",0), c.get("render_failures",0)))' 2>/dev/null || echo "?")

    # CDRs: every call written as ended (the store writes in batches; bounded wait).
    local cdr_line=
    for _ in $(seq 1 20); do
        "$HOTLINE_BIN" calls list --json --config "$WORK/hotline.toml" --limit 100000 >"$dir/cdr.jsonl" 2>"$dir/cdr.err" || true
        cdr_line=$("${ANALYZE_MEDIA[@]}" cdr "$dir/cdr.jsonl" 2>/dev/null || true)
        [ -n "$cdr_line" ] && [ "$(kv calls "$cdr_line")" = "$(kv ended "$cdr_line")" ] &&
            [ "$(kv calls "$cdr_line")" -ge "$n" ] 2>/dev/null && break
        sleep 1
    done
    local rec_mib
    rec_mib=$(du -sm "$WORK/recordings" 2>/dev/null | cut -f1)
    hotline_alive || echo "  hotline is not running at the end of the run; see $dir/hotline.log" >&2
    local alive=yes
    hotline_alive || alive=no
    cleanup
    trap cleanup EXIT

    # Figures.
    local stat_line sipp_ok sipp_failed retrans sipp_peak rtt_line wire_line rtp_lines
    stat_line=$("${ANALYZE[@]}" stat "$dir/stat.csv" 2>/dev/null || echo "ok=? failed=? retrans=?")
    sipp_ok=$(kv ok "$stat_line") sipp_failed=$(kv failed "$stat_line") retrans=$(kv retrans "$stat_line")
    sipp_peak=$("${ANALYZE_MEDIA[@]}" peak "$dir/stat.csv" 2>/dev/null || echo '?')
    rtt_line=$("${ANALYZE[@]}" rtt "$dir"/*_rtt.csv 2>/dev/null || echo "n=0")
    wire_line=$("${ANALYZE[@]}" pcap "$dir/sip.pcap" "$SIP_PORT" 2>/dev/null || echo "calls=0")
    local rtpe_range=()
    [ "$path" = rtpengine ] && rtpe_range=("$RTPENGINE_PORTS")
    rtp_lines=$("${ANALYZE_MEDIA[@]}" rtp "$dir/rtp.pcap" "$RTP_PORTS" "${rtpe_range[@]}" 2>/dev/null || true)
    local cap_drops
    cap_drops=$(grep -o '[0-9]* packets dropped by kernel' "$dir/tcpdump_rtp.log" | cut -d' ' -f1 || true)

    local wall conc hl_cpu rtpe_cpu kam_cpu sipp_cpu
    wall=$(calc "$w1 - $w0")
    conc=$(calc "($conc0 + $conc1) / 2")
    hl_cpu=$(calc "($hl_t1 - $hl_t0) * 100 / $CLK_TCK / $wall")
    rtpe_cpu=$(calc "($rtpe_t1 - $rtpe_t0) * 100 / $CLK_TCK / $wall")
    kam_cpu=$(calc "($kam_t1 - $kam_t0) * 100 / $CLK_TCK / $wall")
    sipp_cpu=$(calc "($sipp_t1 - $sipp_t0) * 100 / $CLK_TCK / $wall")
    local per_call=nan rtpe_per_call=nan ratio=nan hl_kib=nan rtpe_kib=nan
    if [ "$(calc "$conc > 0")" = 1.000000 ]; then
        per_call=$(calc "$hl_cpu / $conc")
        hl_kib=$(calc "($hl_rss1 - $hl_rss0) / $conc")
        if [ "$path" = rtpengine ]; then
            rtpe_per_call=$(calc "$rtpe_cpu / $conc")
            rtpe_kib=$(calc "($rtpe_rss1 - $rtpe_rss0) / $conc")
            [ "$(calc "$rtpe_cpu > 0")" = 1.000000 ] && ratio=$(calc "$hl_cpu / $rtpe_cpu")
        fi
    fi
    # The two counters are read a few ms apart while SIPp's socket drops ~50 datagrams
    # per call per second: the difference is good to about that; below 0 reads as 0.
    local udp_other
    udp_other=$(((rb1 - rb0) - (sippm1 - sippm0)))
    [ "$udp_other" -ge 0 ] || udp_other=0
    local hl_out hl_in relay_in
    hl_out=$(printf '%s\n' "$rtp_lines" | grep -E '^hop=hotline>(sipp|rtpengine) ' || true)
    hl_in=$(printf '%s\n' "$rtp_lines" | grep -E '^hop=(sipp|rtpengine)>hotline ' || true)
    relay_in=$(printf '%s\n' "$rtp_lines" | grep -E '^relay=sipp>rtpengine->' || true)
    local hungup
    hungup=$(($(int_or0 "$(kv by_hotline "$cdr_line")") + $(int_or0 "$(kv by_system "$cdr_line")")))

    # Whole machine (every process, kernel, other users) busy over the window, % of all cores.
    local machine_busy
    machine_busy=$(calc "100 * ($mbusy1 - $mbusy0) / (($mbusy1 - $mbusy0) + ($midle1 - $midle0) + 0.000001)")
    local verdict=ok
    if [ "$alive" != yes ]; then
        verdict="FAIL(hotline exited)"
    elif [ "$sipp_failed" != 0 ] || [ "$sipp_ok" != "$n" ] || [ "$hungup" != 0 ]; then
        verdict=FAIL
    elif [ "$(calc "$conc < 0.98 * $n")" = 1.000000 ]; then
        verdict="LOW(concurrency)"
    fi
    # A saturated machine delays everyone's packets: the figures are the machine's limit.
    [ "$(calc "$machine_busy >= 90")" = 1.000000 ] && verdict="$verdict,saturated"
    local row=("$app" "$n" "$path" "$(printf %.0f "$conc")" "$sipp_peak" "$sipp_ok" "$sipp_failed" "$hungup"
        "$(printf %.1f "$hl_cpu")" "$(printf %.4f "$per_call")"
        "$(calc "$hl_rss0 / 1024" | xargs printf %.1f)" "$(calc "$hl_rss1 / 1024" | xargs printf %.1f)"
        "$(printf %.1f "$hl_kib")" "$(kv loss_mean_pct "$cdr_line")" "$(kv calls_with_loss "$cdr_line")"
        "$hl_drops" "$rtpe_drops" "$udp_other" "$(kv jitter_p99_ms "$cdr_line")"
        "$(kv absd_p99_ms "$hl_out")" "$(kv absd_p99_ms "$hl_in")" "$(kv seq_lost "$hl_out")"
        "$(kv ok_p50 "$wire_line")" "$(kv ok_p99 "$wire_line")" "$(kv p50 "$rtt_line")"
        "$(printf %.1f "$rtpe_cpu")" "$(printf %.4f "$rtpe_per_call")" "$(printf %.1f "$rtpe_kib")"
        "$(printf %.2f "$ratio")" "$(kv delay_p99_ms "$relay_in")" "$(kv absd_p99_added_ms "$relay_in")"
        "$(printf %.1f "$kam_cpu")" "$(printf %.1f "$sipp_cpu")" "$(printf %.0f "$machine_busy")" "$(printf %.1f "$wall")" "$load1" "$verdict")
    (
        IFS=$'\t'
        echo "${row[*]}"
    ) >>"$TSV"
    {
        echo "== $app, $n calls, $path (run dir $dir)"
        echo "ramp ${RAMP_SECONDS}s (all up after $(printf %.1f "$ramp_s") s); CPU window $(printf %.1f "$wall") s with $conc0 -> $conc1 calls up; capture $(printf %.1f "$capture") s; load1 at start $load1"
        echo "sipp: $stat_line peak=$sipp_peak rc=$sipp_rc; INVITE->200 at SIPp (ms, 1 ms clock): $rtt_line"
        echo "INVITE->200 at Hotline's port (ms): $wire_line"
        echo "hotline: cpu $(printf %.1f "$hl_cpu") % of a core, rss idle $((hl_rss0 / 1024)) MiB -> $((hl_rss1 / 1024)) MiB; socket drops $hl_drops; recordings ${rec_mib:-0} MiB"
        [ "$path" = rtpengine ] && echo "rtpengine: cpu $(printf %.1f "$rtpe_cpu") %, rss $((rtpe_rss0 / 1024)) -> $((rtpe_rss1 / 1024)) MiB, socket drops $rtpe_drops; kamailio cpu $(printf %.1f "$kam_cpu") %"
        echo "sipp cpu $(printf %.1f "$sipp_cpu") %; whole machine $(printf %.0f "$machine_busy") % busy; kernel UDP over the window: RcvbufErrors +$((rb1 - rb0)) (SIPp's unread media socket +$((sippm1 - sippm0))), InErrors +$((inerr1 - inerr0)), NoPorts +$((noport1 - noport0))"
        echo "cdr: $cdr_line"
        [ "$base" = flow ] && echo "tts cache: $tts_line"
        echo "rtp capture (1 in $CAPTURE_SAMPLE calls by SSRC; tcpdump dropped ${cap_drops:-?}):"
        printf '%s\n' "$rtp_lines" | sed 's/^/  /'
        echo "verdict: $verdict"
        echo
    } | tee -a "$DETAILS" >&2
}

for app in $APPS; do
    for n in $LOADS; do
        for path in $PATHS; do
            run_one "$app" "$n" "$path"
            sleep 3
        done
    done
done

{
    echo "== Media load: $APPS x $LOADS concurrent calls of ${CALL_SECONDS}s ($(date -u +%Y-%m-%dT%H:%MZ))"
    machine_line
    echo "$("$HOTLINE_BIN" --version 2>/dev/null || echo 'hotline ?'); [media] rtp_timeout_secs = 0, 2 media workers (one per core); --rtp-ports $RTP_PORTS; fd limit $(ulimit -n)"
    if [[ " $PATHS " == *" rtpengine "* ]]; then
        echo "path rtpengine: SIPp -> Kamailio $(kamailio -v 2>/dev/null | awk '/^version/ {print $3; exit}') (rtpengine_manage) -> Hotline; RTP SIPp <-> rtpengine $(rtpengine --version 2>&1 | awk '{print $2; exit}') (userspace, --table=-1) <-> Hotline"
    fi
    if [[ " $PATHS " == *" direct "* ]]; then
        echo "path direct: SIPp -> Hotline, RTP SIPp <-> Hotline"
    fi
    echo "SIPp $(sipp -v 2>/dev/null | awk '/SIPp v/ {print $2; exit}'): rtp_stream PCMA 20 ms (g711a.pcap speech; in-band '1' every $loop_len s after a $lead_len s lead-in), ramp -r N -rp ${RAMP_SECONDS}000, -l N -m N, calls of ${CALL_SECONDS} s"
    echo "SIPp, Kamailio, rtpengine, tcpdump and Hotline share the $(nproc) cores; CPU % is of one core."
    echo
    echo "Columns: reached = calls up in Hotline during the CPU window; failed = SIPp failed calls;"
    echo "hungup = calls Hotline or the system ended before SIPp's BYE; cpu/call = Hotline CPU % / reached;"
    echo "KiB/call = (RSS on the plateau - idle RSS) / reached; loss = CDR loss_pct mean / calls with loss /"
    echo "datagrams dropped at Hotline's sockets; jit in = CDR jitter_ms p99 (caller's stream as Hotline got"
    echo "it); jit added = |D| p99 of Hotline's own output stream; setup = INVITE->200 p50 at Hotline's port;"
    echo "rtpe = rtpengine relaying the same calls; ratio = Hotline CPU / rtpengine CPU; busy = whole"
    echo "machine busy over the window, % of all cores (>= 90: saturated, figures are the machine's limit)."
    echo
    awk -F'\t' 'NR == 1 {
            print "app\tN\tpath\treached\tfailed\thungup\thl_cpu%\tcpu%/call\tKiB/call\tloss%\tlossy\tdrops\tjit_in_p99\tjit_added_p99\tsetup_p50\trtpe_cpu%/call\trtpe_KiB/call\tratio\tbusy%\tverdict"
            next }
        { print $1"\t"$2"\t"$3"\t"$4"\t"$7"\t"$8"\t"$9"\t"$10"\t"$13"\t"$14"\t"$15"\t"$16"\t"$19"\t"$20"\t"$23"\t"$27"\t"$28"\t"$29"\t"$34"\t"$37 }' "$TSV" |
        column -t -s $'\t'
    echo
    echo "Every column: $TSV. Per run:"
    echo
    cat "$DETAILS"
} | tee "$OUT/media_load.txt"

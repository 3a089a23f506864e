#!/usr/bin/env bash
# Signaling load: SIPp's built-in UAC (INVITE -> 100/200 -> ACK -> BYE at once -> 200)
# against a release Hotline on 127.0.0.1, stepping calls per second up until calls fail.
#
# Per step: calls ok/failed, SIPp retransmissions (a sign of drops or >500 ms answers),
# the achieved rate, INVITE->200 response time p50/p99 from SIPp -trace_rtt (SIPp's clock
# has 1 ms resolution: "0" means under a millisecond), Hotline CPU % of one core over the
# step and RSS after it. A step passes when no call failed and SIPp kept >= 95% of the
# target rate. Then, when tcpdump is there and we are root, a capture at LATENCY_RATES
# gives INVITE->200 with microsecond precision from packet timestamps.
#
# Note: SIPp and Hotline share the machine's cores, so the ceiling found here is the
# pair's, not Hotline's alone. Results: $OUT/sipp_cps.txt (and .tsv).
#
# Knobs: RATES="200 400 ...", STEP_SECONDS=15, LATENCY_RATES="200 1000" (empty: skip),
# RTP_PORTS=61000-65535, NO_BUILD=1, SIP_PORT, HTTP_PORT, SIPP_PORT, SIPP_BUFF, BENCH_OUT.
set -euo pipefail
. "$(dirname "$0")/common.sh"

RATES=${RATES:-"200 400 600 800 1000 1200 1500 2000 2500 3000 4000 5000 6000 8000 10000 12000 15000"}
STEP_SECONDS=${STEP_SECONDS:-15}
LATENCY_RATES=${LATENCY_RATES-"200 1000"}

check_tools
load0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT"
build_release
RUN="$OUT/sipp_cps.run"
rm -rf "$RUN"
mkdir -p "$RUN"
# A range other programs are unlikely to hold: below 32768 tests and SIPp's -mp take
# ports, 32768-60999 is the kernel's ephemeral range. A port Hotline cannot bind makes
# it hang up the answered call, which would count as a failed call here.
RTP_PORTS=${RTP_PORTS:-61000-65535}
start_hotline "$RUN/hotline.log" --rtp-ports "$RTP_PORTS"

TSV="$OUT/sipp_cps.tsv"
printf 'target_cps\tok\tfailed\tretrans\tdrops_hl\tdrops_sipp\tachieved_cps\trtt_p50_ms\trtt_p99_ms\trtt_max_ms\thotline_cpu_pct\tsipp_cpu_pct\thotline_rss_mib\tload1\tsipp_rc\tverdict\n' >"$TSV"

# run_sipp DIR RATE CALLS [extra sipp args...]: runs the UAC from DIR and prints
# "rc cpu_seconds": SIPp's exit code and the CPU it used (bash `times` in the subshell
# that waited for it).
run_sipp() {
    local dir=$1 rate=$2 calls=$3
    shift 3
    mkdir -p "$dir"
    (
        cd "$dir"
        rc=0
        # SIPp's own socket dies with it: sample its drop counter while it runs.
        (
            while sleep 0.5; do
                d=$(udp_drops "$SIPP_PORT")
                [ "$d" -gt 0 ] && echo "$d" >sipp_drops.txt
            done
        ) &
        sampler=$!
        echo 0 >sipp_drops.txt
        timeout $((STEP_SECONDS * 4 + 60)) sipp -sn uac "127.0.0.1:$SIP_PORT" \
            -i 127.0.0.1 -mi 127.0.0.1 -p "$SIPP_PORT" -buff_size "$SIPP_BUFF" -r "$rate" -m "$calls" -l "$((rate * 2))" \
            -d 0 -nostdin -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 \
            -trace_err -error_file errors.log "$@" >screen.txt 2>&1 || rc=$?
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
        # `times` must run in this very shell (a $(...) fork has no children yet).
        times >times.txt
        echo "$rc $(tail -1 times.txt | awk '{
            split($1, u, /[ms]/); split($2, s, /[ms]/);
            printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')"
    )
}

# udp_drops PORT: datagrams the kernel dropped at the UDP socket bound to PORT (its
# receive buffer was full), from `ss` skmem "d" field; 0 when the socket is gone.
udp_drops() {
    ss -Huamn "sport = :$1" 2>/dev/null | grep -o 'skmem:([^)]*)' | grep -o ',d[0-9]*' |
        tr -d ',d' | awk '{s += $1} END {print s + 0}'
}

# calc EXPR: floating-point arithmetic through awk.
calc() {
    awk "BEGIN { printf \"%.6f\", $1 }"
}

max_pass=0
max_clean=0
prev_rate=0
first_fail=
for rate in $RATES; do
    calls=$((rate * STEP_SECONDS))
    dir="$RUN/r$rate"
    cpu0=$(cpu_ticks)
    hl_drop0=$(udp_drops "$SIP_PORT")
    t0=$(date +%s.%N)
    read -r rc sipp_cpu_s < <(run_sipp "$dir" "$rate" "$calls")
    t1=$(date +%s.%N)
    cpu1=$(cpu_ticks)
    hl_drops=$(($(udp_drops "$SIP_PORT") - hl_drop0))
    load1=$(cut -d' ' -f1 /proc/loadavg)
    read -r ok failed retrans _ < <("${ANALYZE[@]}" stat "$dir/stat.csv" | tr ' ' '\n' | cut -d= -f2 | paste -sd' ')
    read -r _ p50 p99 pmax < <("${ANALYZE[@]}" rtt "$dir"/uac_*_rtt.csv | tr ' ' '\n' | cut -d= -f2 | paste -sd' ')
    ok=${ok:-0} failed=${failed:-?} retrans=${retrans:-?} p50=${p50:-?} p99=${p99:-?} pmax=${pmax:-?}
    wall=$(calc "$t1 - $t0")
    achieved=$(calc "$ok / $wall")
    cpu=$(calc "($cpu1 - $cpu0) * 100 / $CLK_TCK / $wall")
    sipp_cpu=$(calc "$sipp_cpu_s * 100 / $wall")
    rss=$(calc "$(rss_kib VmRSS) / 1024")
    verdict=pass
    if ! hotline_alive; then
        verdict="FAIL (hotline exited; see $RUN/hotline.log)"
    elif [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$ok" != "$calls" ] ||
        [ "$(calc "($achieved < 0.95 * $rate)")" != 0.000000 ]; then
        verdict=FAIL
    fi
    sipp_drops=$(cat "$dir/sipp_drops.txt" 2>/dev/null || echo '?')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%.0f\t%.0f\t%.1f\t%s\t%s\t%s\n' "$rate" "$ok" \
        "$failed" "$retrans" "$hl_drops" "$sipp_drops" "$achieved" "$p50" "$p99" "$pmax" "$cpu" \
        "$sipp_cpu" "$rss" "$load1" "$rc" "$verdict" | tee -a "$TSV"
    if [ "$verdict" = pass ]; then
        max_pass=$rate
        [ "$retrans" = 0 ] && [ "$max_clean" = "$prev_rate" ] && max_clean=$rate
        prev_rate=$rate
    else
        first_fail=$rate
        break
    fi
    sleep 2
done

hotline_alive || die "hotline exited during the ramp; see $RUN/hotline.log"
# Is the memory of finished calls reused? Transactions end 64*T1 = 32 s after the call.
sleep 40
rss_idle=$(calc "$(rss_kib VmRSS) / 1024")
rss_peak=$(calc "$(rss_kib VmHWM) / 1024")
active_after=$(active_calls || echo '?')

# Precise setup times at fixed rates, from a packet capture of the SIP port.
latency_lines=()
if [ -n "$LATENCY_RATES" ] && command -v tcpdump >/dev/null && [ "$(id -u)" = 0 ]; then
    for rate in $LATENCY_RATES; do
        dir="$RUN/lat$rate"
        mkdir -p "$dir"
        tcpdump -i lo -s 1024 -B 65536 -w "$dir/sip.pcap" "udp port $SIP_PORT" >"$dir/tcpdump.log" 2>&1 &
        dump=$!
        sleep 1
        read -r rc _ < <(run_sipp "$dir" "$rate" $((rate * STEP_SECONDS)))
        sleep 0.5
        kill "$dump" 2>/dev/null || true
        wait "$dump" 2>/dev/null || true
        wire=$("${ANALYZE[@]}" pcap "$dir/sip.pcap" "$SIP_PORT")
        dropped=$(grep -o '[0-9]* packets dropped by kernel' "$dir/tcpdump.log" || true)
        latency_lines+=("  at $rate CPS (sipp rc=$rc): $wire (ms; tcpdump: ${dropped:-n/a})")
        rm -f "$dir/sip.pcap"
        sleep 2
    done
else
    latency_lines+=("  (skipped: needs tcpdump and root; LATENCY_RATES='$LATENCY_RATES')")
fi

{
    echo "== SIPp CPS ramp ($(date -u +%Y-%m-%dT%H:%MZ))"
    machine_line
    echo "$("$HOTLINE_BIN" --version 2>/dev/null || echo 'hotline ?'), built-in default profile, --rtp-ports $RTP_PORTS, log level info, fd limit $(ulimit -n); load average at start: $load0"
    echo "sipp -sn uac -r RATE -m RATE*$STEP_SECONDS -l RATE*2 -d 0 -buff_size $SIPP_BUFF (net.core.rmem_max $(cat /proc/sys/net/core/rmem_max)); SIPp and Hotline share the $(nproc) cores"
    echo "drops_hl / drops_sipp: datagrams the kernel dropped at Hotline's / SIPp's full UDP receive buffer"
    column -t -s $'\t' "$TSV"
    echo "max CPS with 0 failed calls (and >= 95% of the rate kept): $max_pass${first_fail:+ (first failing step: $first_fail)}"
    echo "max CPS with 0 failed calls and 0 retransmissions in every step up to it: $max_clean"
    printf 'hotline RSS 40 s after the ramp: %.1f MiB (peak %.1f MiB), active calls %s\n' "$rss_idle" "$rss_peak" "$active_after"
    echo "INVITE->200 on the wire (tcpdump at the server port):"
    printf '%s\n' "${latency_lines[@]}"
} | tee "$OUT/sipp_cps.txt"

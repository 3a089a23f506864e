#!/usr/bin/env bash
# Memory per idle dialog: SIPp's UAC opens DIALOGS answered calls and holds them (a long
# -d pause), Hotline's RSS is read from /proc once every call is up and the INVITE
# transactions have ended (64*T1 = 32 s after the last 200), then SIPp hangs all up.
# Reports RSS before, with the dialogs, and after the hang-up, and KiB per 1000 dialogs.
#
# Knobs: DIALOGS=10000, RATE=500 (calls per second while opening), SETTLE=40 (seconds
# to wait for transactions to end), RTP_PORTS=36000-60999, FD_LIMIT=65536, NO_BUILD=1,
# SIP_PORT, HTTP_PORT, SIPP_PORT, BENCH_OUT.
# Results: $OUT/idle_dialogs.txt.
set -euo pipefail
. "$(dirname "$0")/common.sh"

DIALOGS=${DIALOGS:-10000}
RATE=${RATE:-500}
SETTLE=${SETTLE:-40}

check_tools
mkdir -p "$OUT"
build_release
RUN="$OUT/idle_dialogs.run"
rm -rf "$RUN"
mkdir -p "$RUN"
# Each call holds an even RTP port (and RTP + RTCP sockets): room for every dialog.
RTP_PORTS=${RTP_PORTS:-36000-60999}
# Calls must stay up without RTP (SIPp sends none): the echo app, no RTP timeout, no
# recording; the SIP profile stays the built-in one.
HOTLINE_TOML=${HOTLINE_TOML:-'[media]
rtp_timeout_secs = 0
record = false

[numbers]
default = "echo"'}
start_hotline "$RUN/hotline.log" --rtp-ports "$RTP_PORTS"
# Two sockets per call: the fd limit caps how many dialogs Hotline can hold.
fd_cap=$((($(ulimit -n) - 200) / 2))
if [ "$DIALOGS" -gt "$fd_cap" ]; then
    echo "note: fd limit $(ulimit -n) allows about $fd_cap calls (RTP + RTCP socket each); DIALOGS $DIALOGS -> $fd_cap"
    DIALOGS=$fd_cap
fi

sleep 1
rss0=$(rss_kib VmRSS)
ramp=$(((DIALOGS + RATE - 1) / RATE))
hold_ms=$(((ramp + SETTLE + 30) * 1000))

(cd "$RUN" && timeout $((ramp * 3 + SETTLE + 180)) sipp -sn uac "127.0.0.1:$SIP_PORT" \
    -i 127.0.0.1 -mi 127.0.0.1 -p "$SIPP_PORT" -buff_size "$SIPP_BUFF" -r "$RATE" -m "$DIALOGS" -l "$DIALOGS" \
    -d "$hold_ms" -nostdin -trace_stat -stf stat.csv -fd 5 \
    -trace_err -error_file errors.log >screen.txt 2>&1) &
sipp_job=$!

# Wait (bounded) until Hotline holds every dialog.
up=0
for _ in $(seq 1 $((ramp * 2 + 30))); do
    up=$(active_calls || echo 0)
    [ "$up" -ge "$DIALOGS" ] && break
    sleep 0.4
done
echo "dialogs up: $up of $DIALOGS; waiting ${SETTLE}s for transactions to end"
c0=$(cpu_ticks)
t0=$(date +%s.%N)
sleep "$SETTLE"
c1=$(cpu_ticks)
t1=$(date +%s.%N)
held=$(active_calls || echo 0)
hold_cpu=$(awk "BEGIN { printf \"%.1f\", ($c1 - $c0) * 100 / $CLK_TCK / ($t1 - $t0) }")
rss1=$(rss_kib VmRSS)

hotline_alive || die "hotline exited while holding the dialogs; see $RUN/hotline.log"
rc=0
wait "$sipp_job" || rc=$?
sleep 2
rss2=$(rss_kib VmRSS)
hwm=$(rss_kib VmHWM)
after=$(active_calls || echo '?')
read -r sipp_ok sipp_failed _ < <("${ANALYZE[@]}" stat "$RUN/stat.csv" | tr ' ' '\n' | cut -d= -f2 | paste -sd' ')

per_1000=$(awk "BEGIN { if ($held > 0) printf \"%.0f\", ($rss1 - $rss0) * 1000 / $held; else print \"n/a\" }")
{
    echo "== idle dialogs ($(date -u +%Y-%m-%dT%H:%MZ))"
    machine_line
    echo "sipp -sn uac -r $RATE -m $DIALOGS -l $DIALOGS -d $hold_ms -buff_size $SIPP_BUFF; hotline --rtp-ports $RTP_PORTS, fd limit $(ulimit -n)"
    echo "hotline.toml: $(printf '%s' "$HOTLINE_TOML" | tr '\n' ' ')"
    echo "dialogs held: $held of $DIALOGS (RSS read ${SETTLE}s after $up were up)"
    echo "hotline RSS idle: $rss0 KiB; with $held dialogs: $rss1 KiB; after hang-up: $rss2 KiB (active $after); peak $hwm KiB"
    echo "RSS per 1000 idle dialogs: $per_1000 KiB"
    echo "hotline CPU while holding them (${SETTLE}s, no RTP flowing): $hold_cpu % of one core"
    echo "sipp: rc=$rc ok=$sipp_ok failed=$sipp_failed"
} | tee "$OUT/idle_dialogs.txt"

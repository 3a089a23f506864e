# Shared by the SIPp load scripts in bench/ (sourced, not run). Everything stays on
# 127.0.0.1. Hotline runs from a fresh temp dir, so it uses its built-in defaults (calls
# from 127.0.0.0/8 are answered at once by the default app) unless HOTLINE_TOML is set.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOTLINE_BIN=${HOTLINE_BIN:-$ROOT/target/release/hotline}
OUT=${BENCH_OUT:-$ROOT/var/bench}
SIP_PORT=${SIP_PORT:-15060}
HTTP_PORT=${HTTP_PORT:-18080}
SIPP_PORT=${SIPP_PORT:-15080}
# SIPp's socket buffers (its default, 64 KiB, overflows first under load: SIPp, not
# Hotline, then drops 200s and retransmits). The kernel caps it at net.core.rmem_max.
SIPP_BUFF=${SIPP_BUFF:-4194304}
# Hotline binds an RTP and an RTCP socket per call: room for both, for many calls.
FD_LIMIT=${FD_LIMIT:-65536}
ANALYZE=(python3 "$ROOT/bench/analyze.py")
CLK_TCK=$(getconf CLK_TCK)
HOTLINE_PID=
WORK=

die() {
    echo "error: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null || die "$1 is not installed ($2)"
}

check_tools() {
    need sipp "apt-get install -y sip-tester"
    need python3 "install python3"
    need curl "apt-get install -y curl"
}

# Builds the release binary unless NO_BUILD=1, and runs a copy of it, so a rebuild in
# the tree during the benchmark cannot swap the binary between steps.
build_release() {
    if [ "${NO_BUILD:-0}" != 1 ]; then
        (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
    fi
    [ -x "$HOTLINE_BIN" ] || die "$HOTLINE_BIN missing (cargo build --release)"
    mkdir -p "$OUT"
    BIN_BUILT=$(date -u -r "$HOTLINE_BIN" +%Y-%m-%dT%H:%MZ)
    cp "$HOTLINE_BIN" "$OUT/hotline.$$"
    HOTLINE_BIN=$OUT/hotline.$$
    GIT_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')
    if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        GIT_REV="$GIT_REV+uncommitted"
    fi
}

port_busy() {
    ss -Hlun "sport = :$1" 2>/dev/null | grep -q . || ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# free_port PORT: PORT, or the next port above it that is free for UDP and TCP.
free_port() {
    local p=$1
    while port_busy "$p"; do
        p=$((p + 1))
        [ "$p" -lt $(($1 + 100)) ] || die "no free port in $1-$p"
    done
    echo "$p"
}

# start_hotline LOGFILE [extra serve args...]: starts Hotline in a temp dir and waits
# until its HTTP health answers.
start_hotline() {
    local log=$1
    shift
    # A busy default moves up to the next free port (tests may hold ours).
    SIP_PORT=$(free_port "$SIP_PORT")
    HTTP_PORT=$(free_port "$HTTP_PORT")
    SIPP_PORT=$(free_port "$SIPP_PORT")
    # Root may raise the hard limit; others get what the hard limit allows.
    ulimit -n "$FD_LIMIT" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    WORK=$(mktemp -d /tmp/hotline-bench.XXXXXX)
    # HOTLINE_TOML: contents of a ./hotline.toml for this run (none: built-in defaults).
    if [ -n "${HOTLINE_TOML:-}" ]; then
        printf '%s\n' "$HOTLINE_TOML" >"$WORK/hotline.toml"
    fi
    (cd "$WORK" && exec "$HOTLINE_BIN" serve --sip-listen "127.0.0.1:$SIP_PORT" \
        --http-listen "127.0.0.1:$HTTP_PORT" "$@" >"$log" 2>&1) &
    HOTLINE_PID=$!
    trap stop_hotline EXIT
    for _ in $(seq 1 100); do
        if curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null; then
            return 0
        fi
        kill -0 "$HOTLINE_PID" 2>/dev/null || die "hotline exited at start; see $log"
        sleep 0.1
    done
    die "hotline did not answer on http://127.0.0.1:$HTTP_PORT within 10 s; see $log"
}

stop_hotline() {
    if [ -n "$HOTLINE_PID" ] && kill -0 "$HOTLINE_PID" 2>/dev/null; then
        kill "$HOTLINE_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$HOTLINE_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$HOTLINE_PID" 2>/dev/null || true
    fi
    HOTLINE_PID=
    [ -n "$WORK" ] && rm -rf "$WORK"
    WORK=
    rm -f "$OUT/hotline.$$"
}

# CPU time of Hotline so far, in clock ticks (user + system, all threads).
# 0 when Hotline is gone (the scripts check `hotline_alive` after each step).
cpu_ticks() {
    # Fields after the ")" of the comm field: state is $1, utime $12, stime $13.
    { sed 's/^.*) //' "/proc/$HOTLINE_PID/stat" 2>/dev/null || true; } | awk '{t = $12 + $13} END {print t + 0}'
}

# rss_kib [VmRSS|VmHWM]; 0 when Hotline is gone.
rss_kib() {
    { cat "/proc/$HOTLINE_PID/status" 2>/dev/null || true; } |
        awk -v k="${1:-VmRSS}:" '$1 == k {v = $2} END {print v + 0}'
}

hotline_alive() {
    [ -n "$HOTLINE_PID" ] && kill -0 "$HOTLINE_PID" 2>/dev/null
}

# Hotline's active call count from its health API. The driver refreshes those counters
# at most every 200 ms and only when it wakes up (a datagram or a timer), so wake it
# with two OPTIONS 300 ms apart first (answered to the discard port 9).
active_calls() {
    local i
    for i in 1 2; do
        printf 'OPTIONS sip:ping@127.0.0.1:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKpoke%s%s\r\nMax-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=b%s\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: poke-%s-%s@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' \
            "$SIP_PORT" "$RANDOM" "$i" "$RANDOM" "$RANDOM" "$i" >"/dev/udp/127.0.0.1/$SIP_PORT" 2>/dev/null || true
        sleep 0.3
    done
    curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/health" |
        python3 -c 'import json,sys; print(sum(p["active_calls"] for p in json.load(sys.stdin)["profiles"]))'
}

machine_line() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, $(date -u +%Y-%m-%dT%H:%MZ); binary built ${BIN_BUILT:-?} (tree at ${GIT_REV:-?})"
}

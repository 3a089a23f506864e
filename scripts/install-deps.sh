#!/usr/bin/env bash
# Installs the Debian packages Hotline needs, and only those that are missing (idempotent).
#   scripts/install-deps.sh run    what building and running `hotline serve` needs
#   scripts/install-deps.sh test   that, plus the real peers the end-to-end tests drive
#   scripts/install-deps.sh bench  that, plus what bench/media_load.sh drives: Kamailio
#                                  (proxy calling rtpengine), rtpengine (the reference relay)
#                                  and tcpdump (setup time and jitter on the wire)
set -euo pipefail

mode="${1:-run}"
run_pkgs=(cmake pkg-config espeak-ng sox)
# chromium + a CJK font: the softphone page tests (Playwright drives Debian's Chromium).
test_pkgs=(sip-tester baresip iproute2 util-linux chromium fonts-wqy-zenhei)
bench_pkgs=(kamailio rtpengine-daemon tcpdump curl python3)

case "$mode" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${run_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *)
    echo "usage: $0 run|test|bench   (run: what 'hotline serve' needs; test: plus the test peers;" >&2
    echo "       bench: plus Kamailio, rtpengine and tcpdump for bench/media_load.sh)" >&2
    exit 2
    ;;
esac

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${want[@]}"; do
  installed "$p" || missing+=("$p")
done

# Playwright for the softphone tests, pinned by tests/softphone/package-lock.json. Node 20+
# comes with this machine image (Debian's own nodejs is too old for playwright-core).
softphone_js() {
  [ "$mode" = run ] && return 0
  local dir
  dir="$(dirname "$0")/../tests/softphone"
  [ -d "$dir/node_modules/playwright-core" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm (Node.js 20+) is missing; install Node.js 20 to run the softphone tests" >&2
    return 1
  fi
  echo "install-deps ($mode): npm ci in tests/softphone"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps ($mode): all present: ${want[*]}"
  softphone_js
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo env)
else
  echo "install-deps: missing ${missing[*]}, and this is not root and has no sudo." >&2
  echo "Install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

apt_opts=(-o DPkg::Lock::Timeout=300)
echo "install-deps ($mode): installing ${missing[*]}"
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_opts[@]}" "${missing[@]}"

still=()
for p in "${missing[@]}"; do
  installed "$p" || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-deps: apt-get finished but these are still not installed: ${still[*]}" >&2
  exit 1
fi
echo "install-deps ($mode): installed ${missing[*]}"
softphone_js

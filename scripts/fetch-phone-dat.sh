#!/usr/bin/env bash
# Fetches phone.dat (mobile number prefixes → province/city/carrier, used to route callers
# to agents who speak their dialect) from the `phone` package on PyPI into data/phone.dat.
# Pinned version and checksum; idempotent (a present file with the right checksum is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.4.5
sdist_sha256=96d2f83c1698155227ca143abd8b1d50d04a46f5764ddee6b03ebe60a55037ec
dat_sha256=cb17a69eafa68d7706cfcc68d47cdf165ea916e9d5c476b4dd5f06cf74aed23d
out=data/phone.dat

if [ -s "$out" ] && echo "$dat_sha256  $out" | sha256sum -c --status 2>/dev/null; then
  echo "fetch-phone-dat: $out present"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-phone-dat: python3 (with pip) is needed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download "phone==$version" --no-deps --no-binary :all: -d "$tmp" -q
sdist="$tmp/phone-$version.tar.gz"
echo "$sdist_sha256  $sdist" | sha256sum -c --status || {
  echo "fetch-phone-dat: checksum mismatch for $sdist; refusing to use it" >&2
  exit 1
}
tar -xzf "$sdist" -C "$tmp" "phone-$version/phone/phone.dat"
mkdir -p data
mv "$tmp/phone-$version/phone/phone.dat" "$out"
echo "$dat_sha256  $out" | sha256sum -c --status || {
  echo "fetch-phone-dat: $out does not have the expected checksum" >&2
  exit 1
}
echo "fetch-phone-dat: $out ($(stat -c %s "$out") bytes, phone $version)"

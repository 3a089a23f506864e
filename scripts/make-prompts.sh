#!/usr/bin/env bash
# Renders the built-in apps' prompts (welcome, goodbye) in Mandarin and English with
# espeak-ng into prompts/ as 8 kHz mono 16-bit WAV. Idempotent: existing files are kept
# unless FORCE=1. Mandarin goes through the cmn-latn-pinyin voice with tone-numbered
# pinyin, the only way espeak-ng speaks it intelligibly (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-prompts}
mkdir -p "$out"
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make-prompts: $tool is missing: run scripts/install-deps.sh run" >&2; exit 1; }
done

render() { # name voice text
  local file="$out/$1.wav"
  if [ -s "$file" ] && [ "${FORCE:-0}" != 1 ]; then return; fi
  local tmp
  tmp=$(mktemp --suffix=.wav)
  espeak-ng -v "$2" -s 150 -w "$tmp" "$3"
  sox "$tmp" -r 8000 -c 1 -b 16 "$file" norm -3
  rm -f "$tmp"
  echo "make-prompts: $file"
}

# 您好，欢迎致电热线。请输入您的号码，以井号键结束。
render welcome-zh cmn-latn-pinyin "nin2 hao3, huan1 ying2 zhi4 dian4 re4 xian4. qing3 shu1 ru4 nin2 de5 hao4 ma3, yi3 jing3 hao4 jian4 jie2 shu4."
render welcome-en en-us "Welcome to the hotline. Please enter your number, then press the pound key."
# 谢谢您的来电，再见。
render goodbye-zh cmn-latn-pinyin "xie4 xie4 nin2 de5 lai2 dian4, zai4 jian4."
render goodbye-en en-us "Thank you for calling. Goodbye."
# 您拨打的号码不存在，请核对后再拨。
render not-in-service-zh cmn-latn-pinyin "nin2 bo1 da3 de5 hao4 ma3 bu2 cun2 zai4, qing3 he2 dui4 hou4 zai4 bo1."
render not-in-service-en en-us "The number you have dialled is not in service. Please check the number and try again."

# Music on hold for callers waiting in an ACD queue: 24 s of a soft arpeggio (C-E-G-C, then
# A-C-E-A, F-A-C-F, G-B-D-G), faded at both ends so the loop point is quiet. Synthesised by
# sox, so no third-party recording (and its licence) ships with Hotline.
moh="$out/moh.wav"
if [ ! -s "$moh" ] || [ "${FORCE:-0}" = 1 ]; then
  tmpdir=$(mktemp -d)
  i=0
  for chord in "C4 E4 G4 C5" "A3 C4 E4 A4" "F3 A3 C4 F4" "G3 B3 D4 G4"; do
    for rep in 1 2 3; do
      for note in $chord; do
        i=$((i + 1))
        sox -n -r 8000 -c 1 -b 16 "$tmpdir/$(printf %03d $i).wav" \
          synth 0.5 pluck "$note" fade q 0.01 0.5 0.2 vol 0.5
      done
    done
  done
  sox "$tmpdir"/*.wav -r 8000 -c 1 -b 16 "$moh" norm -10 fade t 0.3 0 0.5
  rm -rf "$tmpdir"
  echo "make-prompts: $moh"
fi

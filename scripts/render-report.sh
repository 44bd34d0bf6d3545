#!/usr/bin/env bash
# Screenshots an evaluation report page with headless Chromium (Debian package `chromium`):
#   scripts/render-report.sh REPORT_DIR [OUT.png]
# REPORT_DIR holds report.html. The PNG (1200x1600 CSS pixels) never goes into a neurotome
# output (a folder holding neurotome's manifest.json, at REPORT_DIR or above it): `verify` and
# `package` would refuse the output as changed. By default it goes beside the outermost such output,
# as OUTPUT-report.png (checkpoints/gender-debias-out/eval -> checkpoints/gender-debias-out-report.png);
# for a report folder outside any output, it goes into REPORT_DIR as report.png. An OUT.png
# inside an output is refused (exit 2).
# The page loads nothing from the network; networking features of the browser are switched off too.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: scripts/render-report.sh REPORT_DIR [OUT.png]" >&2; exit 2; }
[[ -d "$1" ]] || { echo "$1: not a directory" >&2; exit 2; }
dir="$(cd "$1" && pwd)"
page="$dir/report.html"
[[ -f "$page" ]] || { echo "no report.html in $dir" >&2; exit 2; }

# the outermost folder holding neurotome's manifest.json, from `$1` up to /; empty when there is none
output_of() {
  local d="$1" found=""
  while [[ -n "$d" && "$d" != "/" ]]; do
    grep -qs '"format" *: *"neurotome-manifest/' "$d/manifest.json" && found="$d"
    d="$(dirname "$d")"
  done
  echo "$found"
}

output="$(output_of "$dir")"
if [[ $# -eq 2 ]]; then
  out_parent="$(cd "$(dirname "$2")" && pwd)" || { echo "$2: its folder does not exist" >&2; exit 2; }
  out_abs="$out_parent/$(basename "$2")"
  inside="$(output_of "$out_parent")"
  if [[ -n "$inside" ]]; then
    echo "$2: inside the neurotome output $inside, which verify and package would then refuse as changed; write the picture outside it" >&2
    exit 2
  fi
elif [[ -n "$output" ]]; then
  out_abs="$output-report.png"
else
  out_abs="$dir/report.png"
fi
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || { echo "chromium not found; install it with: apt-get install -y chromium" >&2; exit 3; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
rm -f "$out_abs"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$profile" --window-size=1200,1600 --screenshot="$out_abs" "file://${page// /%20}" \
  >"$profile/chromium.log" 2>&1 || { cat "$profile/chromium.log" >&2; exit 1; }
[[ -s "$out_abs" ]] || { cat "$profile/chromium.log" >&2; echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out_abs"

#!/usr/bin/env bash
# Screenshots an evaluation report page with headless Chromium (Debian package `chromium`):
#   scripts/render-report.sh REPORT_DIR [OUT.png]
# REPORT_DIR holds report.html; the PNG (1200x1600 CSS pixels) defaults to REPORT_DIR/report.png.
# The page loads nothing from the network; networking features of the browser are switched off too.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: scripts/render-report.sh REPORT_DIR [OUT.png]" >&2; exit 2; }
dir="$(cd "$1" && pwd)"
page="$dir/report.html"
out="${2:-$dir/report.png}"
[[ -f "$page" ]] || { echo "no report.html in $dir" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || { echo "chromium not found; install it with: apt-get install -y chromium" >&2; exit 3; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
rm -f "$out_abs"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$profile" --window-size=1200,1600 --screenshot="$out_abs" "file://${page// /%20}" \
  >"$profile/chromium.log" 2>&1 || { cat "$profile/chromium.log" >&2; exit 1; }
[[ -s "$out_abs" ]] || { cat "$profile/chromium.log" >&2; echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out_abs"

#!/usr/bin/env bash
# Regenerates the README's dashboard screenshot (issue 15, part 5) from the fixture the
# browser test uses: renders tests/fixtures/dashboard/data.json with the library's renderer
# (examples/dashboard.rs) and photographs it with headless Chromium (Debian's `chromium`).
# Usage: scripts/dashboard-screenshot.sh [light|dark] [OUT.png]   (default: light docs/dashboard.png)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-light}
out=${2:-docs/dashboard.png}
browser=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
  echo "$browser not found: apt-get install chromium" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo run --locked --quiet --example dashboard -- tests/fixtures/dashboard/data.json >"$tmp/dashboard.html"

flags=()
case "$mode" in
  light) ;;
  dark) flags+=(--force-dark-mode) ;;
  *) echo "mode must be light or dark, not $mode" >&2; exit 2 ;;
esac

# The top of the page: warning, tiles, trend, expiry timeline and the start of the heat map.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$tmp/profile" "${flags[@]}" \
  --screenshot="$tmp/shot.png" --window-size=1280,1560 "file://$tmp/dashboard.html" 2>/dev/null
cp "$tmp/shot.png" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"

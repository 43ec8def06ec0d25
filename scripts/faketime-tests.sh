#!/usr/bin/env bash
# Runs the already-built test binaries with the system clock far from today (issue 10): the
# suite must not depend on the date, so it passes two years ahead and one year back.
# Usage: scripts/faketime-tests.sh [OFFSET]...   (default: +730d -365d)
# Needs libfaketime (Debian package `faketime`); builds nothing itself beyond
# `cargo test --no-run`, so cargo and rustc never run under the fake clock.
set -euo pipefail
cd "$(dirname "$0")/.."

lib=""
for candidate in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
                 /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 \
                 /usr/lib/faketime/libfaketime.so.1; do
  if [ -e "$candidate" ]; then lib=$candidate; break; fi
done
if [ -z "$lib" ]; then
  echo "libfaketime not found: apt-get install faketime" >&2
  exit 1
fi

offsets=("$@")
[ ${#offsets[@]} -gt 0 ] || offsets=(+730d -365d)

# The test executables, as cargo built them for `cargo test`: the workspace's default
# members, so tokenwarden's and the emulator crate's (tests/emulator/).
mapfile -t bins < <(cargo test --locked --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])')
if [ ${#bins[@]} -eq 0 ]; then
  echo "no test executables found" >&2
  exit 1
fi

for offset in "${offsets[@]}"; do
  echo "== tests with the clock at $offset (libfaketime)"
  # Only the wall clock moves: monotonic clocks (timeouts, pacing) stay real.
  FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" date -u +"   the tests see: %Y-%m-%dT%H:%M:%SZ"
  for bin in "${bins[@]}"; do
    log=$(mktemp)
    set +e
    FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" "$bin" -q >"$log" 2>&1
    code=$?
    set -e
    grep -E '^test result' "$log" | sed "s|^|   $(basename "$bin"): |" || true
    if [ "$code" -ne 0 ]; then
      grep -E 'FAILED|panicked' "$log" | head -n 40 >&2 || true
      echo "FAILED: $(basename "$bin") with the clock at $offset (exit $code)" >&2
      rm -f "$log"
      exit 1
    fi
    rm -f "$log"
  done
done

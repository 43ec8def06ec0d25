#!/usr/bin/env bash
# OPA parity (issue 13): the rule packs must mean the same under real OPA as under
# tokenwarden's engine (regorus). Loads the default pack, its shared library and
# examples/custom-rules into OPA's own Go engine (PyPI opa-golib-python-bindings, pinned
# in scripts/opa-venv.sh, in a virtualenv of its own under target/) and fails on any
# difference:
#
#   1. src/engine/opa_builtins.rs, the portability lint's catalogue, is that OPA's, and
#      OPA does what the lint says it does with the code it refuses;
#   2. every test_* rule passes under OPA, and PASS/FAIL per test equals
#      `tokenwarden rules test`;
#   3. the findings of every rule on the exact input documents tokenwarden builds, for
#      the example snapshot and for a synthetic estate (OPA_PARITY_TOKENS, default 2000),
#      are identical per token and rule (message, severity, evidence), and every rule
#      fires somewhere.
#
# Usage: scripts/opa-parity.sh   (from anywhere; about 10 s once built, 30 s with a new venv)
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/opa-parity
NOW=2026-11-22T10:00:00Z
TOKENS=${OPA_PARITY_TOKENS:-2000}
PY=target/opa-venv/bin/python

scripts/opa-venv.sh
mkdir -p "$OUT"
"$PY" scripts/opa_parity.py builtins --check src/engine/opa_builtins.rs
"$PY" scripts/opa_parity.py claims

cargo build --quiet --bin tokenwarden --example opa_export

# `rules test` exits 1 when a test fails: the comparison reports it, with OPA's verdict.
status=0
cargo run --quiet -- rules test examples/custom-rules > "$OUT/rules-test.txt" || status=$?
if [ "$status" -gt 1 ]; then
    cat "$OUT/rules-test.txt" >&2
    echo "opa-parity: tokenwarden rules test exited $status" >&2
    exit 1
fi
"$PY" scripts/opa_parity.py tests "$OUT/rules-test.txt" rules examples/custom-rules

cargo run --quiet --example opa_export -- --snapshot examples/snapshot.json --now "$NOW" \
    --rules examples/custom-rules > "$OUT/example.jsonl"
cargo run --quiet --example opa_export -- --synthetic "$TOKENS" --now "$NOW" \
    --rules examples/custom-rules > "$OUT/synthetic.jsonl"
"$PY" scripts/opa_parity.py findings --require-every-rule --rules rules \
    --rules examples/custom-rules "$OUT/example.jsonl" "$OUT/synthetic.jsonl"
echo "opa-parity: OK"

#!/usr/bin/env bash
# The virtualenv with real OPA for scripts/opa-parity.sh and the benchmark's OPA row
# (issue 13): OPA's Go engine from PyPI (opa-golib-python-bindings, pinned here), in
# target/opa-venv. Does nothing when it is already there at the pinned version.
#
# The wheel is a ctypes wrapper around OPA's Go library. It declares Requires-Python
# >= 3.14, a Python these machines do not have, yet uses nothing newer than 3.10, so pip
# is told to install it anyway; opa-parity.sh fails loudly should that ever not work.
set -euo pipefail
cd "$(dirname "$0")/.."

OPA_BINDINGS_VERSION=0.4.4
VENV=target/opa-venv

if "$VENV/bin/python" -c "import importlib.metadata as m, opa_bindings
assert m.version('opa-golib-python-bindings') == '$OPA_BINDINGS_VERSION'" 2>/dev/null; then
    exit 0
fi
echo "opa-venv: installing opa-golib-python-bindings $OPA_BINDINGS_VERSION into $VENV" >&2
rm -rf "$VENV"
"${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python \
    "opa-golib-python-bindings==$OPA_BINDINGS_VERSION"

#!/usr/bin/env python3
"""Checks that tokenwarden's rule packs mean the same under real OPA (issue 13).

Runs inside the virtualenv that scripts/opa-parity.sh makes, with OPA's own Go engine from
the PyPI package opa-golib-python-bindings (`OpaEngine`: add_policy, add_data, eval_query).

  opa_parity.py tests RULES_TEST_OUTPUT DIR...
      Loads every .rego file under the DIRs into OPA, runs each test_* rule of each
      *_test.rego file as `opa test` would (a test passes when it is true), and compares
      PASS/FAIL per test with the output of `tokenwarden rules test` (its PASS/FAIL/ERROR
      lines). Every test must pass under OPA, and both sets must be identical.
  opa_parity.py findings [--require-every-rule] --rules DIR... JSONL...
      Evaluates every rule of the packs under OPA on each input document of the JSONL
      files (one token per line, as tokenwarden's bulk export writes them, with
      data.tokenwarden.config alongside) and compares the findings per token and rule
      with the findings tokenwarden wrote on the same line: message, severity and
      evidence must be identical. A rule that fails under OPA on a document is a
      difference too. With --require-every-rule, so is a rule that never fires.
  opa_parity.py bench --rules DIR... JSONL
      Times OPA evaluating every rule on every input document; prints one JSON object
      with the seconds and both engines' finding counts.
  opa_parity.py claims
      Checks on OPA what the portability lint says OPA does with the code it refuses
      (a rule named after a built-in replaces it, deprecated built-ins are rejected, …).
  opa_parity.py builtins [--check FILE]
      Derives OPA's built-in catalogue from the engine (capabilities documents embedded
      in its library, each name confirmed by compiling a call) and prints it as the Rust
      source of src/engine/opa_builtins.rs, or checks FILE against it.

Exit status 0 when everything matches, 1 on any difference (the first ones are printed),
2 on a usage or setup error.
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

try:
    import opa_bindings
    from opa_bindings import OpaEngine, OpaError
except ImportError:  # pragma: no cover - the shell script installs it
    sys.exit("opa_parity.py: the opa-golib-python-bindings package is missing "
             "(run it through scripts/opa-parity.sh)")

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 10  # differences printed before "... and N more"


class Failed(Exception):
    """A difference or an OPA error: the check fails with exit 1."""


def rego_files(dirs):
    """Every .rego file under the directories, named as tokenwarden names them: the
    directory as given, then the path inside it."""
    files = []
    for d in dirs:
        base = Path(d)
        if not base.is_dir():
            raise SystemExit(f"opa_parity.py: no directory {d}")
        files.extend(p.as_posix() for p in sorted(base.rglob("*.rego")))
    return files


def engine_with(files, data=None):
    e = OpaEngine()
    for f in files:
        try:
            e.add_policy(f, Path(f).read_text())
        except OpaError as err:
            raise Failed(f"OPA rejects {f}: {err.message}") from None
    if data is not None:
        e.add_data(data)
    return e


def parse_module(path, text):
    """OPA's own parse of a module (rego.parse_module), so test discovery does not rely
    on tokenwarden's reading of the file."""
    e = OpaEngine()
    try:
        return e.eval_query("m := rego.parse_module(input.p, input.s)",
                            input={"p": path, "s": text})[0]["m"]
    finally:
        e.close()


def package_of(module):
    return ".".join(t["value"] for t in module["package"]["path"][1:])


def test_names(module):
    names = set()
    for r in module["rules"]:
        head = r["head"]
        name = head.get("name") or head["ref"][0]["value"]
        if name.startswith("test_"):
            names.add(name)
    return sorted(names)


LINE = re.compile(r"^(PASS|FAIL|ERROR) *(\S.*?): (test_\w+)")


def tokenwarden_results(path):
    """(file, test) -> "pass" | "fail" from `tokenwarden rules test` output."""
    out = {}
    for line in Path(path).read_text().splitlines():
        m = LINE.match(line)
        if m:
            out[(m.group(2), m.group(3))] = "pass" if m.group(1) == "PASS" else "fail"
    return out


def cmd_tests(args):
    files = rego_files(args.dirs)
    e = engine_with(files)
    tests = []  # (file, package, [test names])
    for f in files:
        if f.endswith("_test.rego"):
            module = parse_module(f, Path(f).read_text())
            tests.append((f, package_of(module), test_names(module)))
    opa = {}
    values = run_tests(e, tests)
    for f, _, names in tests:
        for name in names:
            value = values[f].get(name)
            if isinstance(value, OpaError):
                print(f"OPA ERROR {f}: {name}: {value.message}")
            opa[(f, name)] = "pass" if value is True else "fail"
    tw = tokenwarden_results(args.rules_test_output)
    problems = []
    for key in sorted(set(opa) | set(tw)):
        a, b = opa.get(key, "missing"), tw.get(key, "missing")
        if a != "pass":
            problems.append(f"{key[0]}: {key[1]}: {a} under OPA (tokenwarden: {b})")
        elif a != b:
            problems.append(f"{key[0]}: {key[1]}: OPA {a}, tokenwarden {b}")
    report(problems)
    print(f"OPA rule tests: {len(opa)} run under OPA, all pass; the same "
          f"{len(tw)} results as `tokenwarden rules test`")


def run_tests(e, tests):
    """{file: {test: value}} for tests = [(file, package, [test names])]; a test that
    was undefined has no value, one that failed with an error has the OpaError. One
    query asks which tests are true, since OPA prepares each new query anew (about
    0.1 s); should a test fail with an error, each one is run on its own to pin it."""
    def passing(p, names):
        # One comprehension per test: a ref with a variable key into the package would
        # make OPA's type checker match every rule's type (it fails on some packages).
        return " | ".join(f'{{"{n}" | data.{p}.{n} == true}}' for n in names) or "set()"
    parts = ", ".join(f'"{i}": {passing(p, names)}' for i, (_, p, names) in enumerate(tests))
    try:
        passed = e.eval_query(f"r := {{{parts}}}")[0]["r"]
        return {f: {n: True for n in passed[str(i)]} for i, (f, _, _) in enumerate(tests)}
    except OpaError:
        pass
    out = {}
    for f, p, names in tests:
        out[f] = {}
        for name in names:
            try:
                rs = e.eval_query(f"x := data.{p}.{name}")
                if rs:
                    out[f][name] = rs[0]["x"]
            except OpaError as err:
                out[f][name] = err
    return out


def rule_meta(files):
    """package -> (rule id, default severity), from each rule file's # METADATA."""
    meta = {}
    for f in files:
        if f.endswith("_test.rego"):
            continue
        text = Path(f).read_text()
        pkg = re.search(r"^package\s+(\S+)", text, re.M)
        rid = re.search(r"^#\s+id:\s*(\S+)", text, re.M)
        sev = re.search(r"^#\s+severity:\s*(\w+)", text, re.M)
        if pkg and rid and sev and pkg.group(1).startswith("tokenwarden.rules."):
            meta[pkg.group(1)] = (rid.group(1), sev.group(1))
    return meta


def canonical(value):
    """JSON text for comparison: keys sorted, integral floats as integers (JSON has one
    number type; OPA and regorus may print 90 and 90.0 for the same number)."""
    def norm(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"))


def query_for(meta):
    fields = ", ".join(f'"{pkg}": data.{pkg}.deny' for pkg in sorted(meta))
    return f"r := {{{fields}}}"


def lines_of(paths):
    for path in paths:
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield f"{path}:{n}", json.loads(line)


def opa_findings(meta, result):
    """(rule_id, message, severity, evidence) of every finding OPA's rules returned."""
    out = []
    for pkg, found in result.items():
        rid, default = meta[pkg]
        for f in found:
            out.append((rid, f.get("msg"), f.get("severity") or default,
                        canonical(f.get("evidence") or {})))
    return sorted(out)


def tokenwarden_findings(doc):
    return sorted((f["rule_id"], f["message"], f["severity"], canonical(f["evidence"] or {}))
                  for f in doc.get("findings", []))


def cmd_findings(args):
    files = rego_files(args.rules)
    meta = rule_meta(files)
    e, data, query = None, None, query_for(meta)
    problems, tokens, findings = [], 0, 0
    fired = set()
    for where, doc in lines_of(args.jsonl):
        if doc.get("errors"):
            problems.append(f"{where}: tokenwarden could not evaluate the token: {doc['errors']}")
            continue
        if e is None:
            data = doc["data"]
            e = engine_with(files, data)
        elif doc["data"] != data:
            problems.append(f"{where}: data differs from the first line's")
            continue
        token = doc["input"]["token"].get("id")
        try:
            rs = e.eval_query(query, input=doc["input"])
        except OpaError as err:
            problems.append(f"{where}: token {token}: OPA error: {err.message}")
            continue
        if not rs:
            problems.append(f"{where}: token {token}: OPA's result is undefined")
            continue
        mine, theirs = opa_findings(meta, rs[0]["r"]), tokenwarden_findings(doc)
        tokens += 1
        findings += len(theirs)
        fired.update(f[0] for f in theirs)
        if mine != theirs:
            only_opa = [f for f in mine if f not in theirs]
            only_tw = [f for f in theirs if f not in mine]
            problems.append(f"{where}: token {token}:\n"
                            + "".join(f"    OPA only:         {f}\n" for f in only_opa)
                            + "".join(f"    tokenwarden only: {f}\n" for f in only_tw))
    if tokens == 0 and not problems:
        problems.append("no input documents")
    if args.require_every_rule:
        # Otherwise "identical" could hide a rule the documents never exercise.
        problems += [f"rule {rid} never fires on these documents"
                     for rid in sorted({m[0] for m in meta.values()} - fired)]
    report(problems)
    print(f"OPA findings: {tokens} tokens, {findings} findings over {len(meta)} rules, "
          "identical to tokenwarden's (message, severity, evidence)")


def cmd_bench(args):
    files = rego_files(args.rules)
    meta = rule_meta(files)
    docs = [doc for _, doc in lines_of([args.jsonl])]
    e = engine_with(files, docs[0]["data"])
    query = query_for(meta)
    e.eval_query(query, input=docs[0]["input"])  # prepares (and caches) the query
    # Only OPA's work is timed: one query per token, the input handed over as JSON text
    # (decoded by OPA, as an application embedding it would), the result read back. The
    # JSON text is made beforehand, so Python's encoder is not counted against OPA; this
    # calls the bridge the way OpaEngine.eval_query does (opa_bindings/engine.py).
    from opa_bindings.engine import _cstr, _encode_input
    q = _cstr(query)
    inputs = [_encode_input(doc["input"]) for doc in docs]
    found = 0
    started = time.perf_counter()
    for encoded in inputs:
        rs = e._call(e._lib.OpaEvalQuery, q, encoded, 0, 0)["result"]
        found += sum(len(v) for v in rs[0]["bindings"]["r"].values())
    seconds = time.perf_counter() - started
    print(json.dumps({"tokens": len(docs), "seconds": seconds, "rules": len(meta),
                      "opa_findings": found,
                      "tokenwarden_findings": sum(len(d["findings"]) for d in docs)}))


# --- OPA's built-in catalogue -------------------------------------------------------

def embedded_capabilities():
    """The capabilities documents OPA embeds in its library (one per release): the union
    of their built-in declarations, name -> declaration."""
    lib = Path(opa_bindings.__file__).with_name("libopabridge.so").read_bytes()
    decoder = json.JSONDecoder()
    decls = {}
    for m in re.finditer(rb'"builtins"\s*:\s*\[', lib):
        start = lib.rfind(b"{", 0, m.start())
        try:
            doc, _ = decoder.raw_decode(lib[start:start + 4_000_000].decode("utf-8", "replace"))
        except ValueError:
            continue
        for b in doc.get("builtins", []):
            decls.setdefault(b["name"], b)
    return decls


def probe(name, arity):
    """What OPA says of a call to `name`: "builtin", "deprecated" or "unknown"."""
    # Arguments from the input have type `any`, so the call passes the type checker and
    # OPA gets as far as its verdict on the function itself.
    args = ", ".join(f"input.a{i}" for i in range(arity))
    e = OpaEngine()
    try:
        e.add_policy("probe.rego", f"package probe\n\nx := {name}({args})\n")
        e.eval_query("y := 1")
        return "builtin"
    except OpaError as err:
        msg = err.message
        if "undefined function" in msg:
            return "unknown"
        if "deprecated built-in function" in msg:
            return "deprecated"
        return "builtin"  # a type error, arity mismatch or "used as value": it exists
    finally:
        e.close()


def catalogue():
    decls = embedded_capabilities()
    if len(decls) < 150:
        raise Failed(f"found only {len(decls)} built-ins in OPA's library")
    if probe("tokenwarden_no_such_builtin", 1) != "unknown":
        raise Failed("the probe does not tell an unknown function from a built-in")
    version = re.search(rb"open-policy-agent/opa@(v[0-9.]+)/",
                        Path(opa_bindings.__file__).with_name("libopabridge.so").read_bytes())
    builtins, deprecated = [], []
    for name, decl in sorted(decls.items()):
        arity = len((decl.get("decl") or {}).get("args") or [])
        kind = probe(name, arity)
        if kind == "builtin":
            builtins.append(name)
        elif kind == "deprecated":
            deprecated.append(name)
    return (version.group(1).decode() if version else "unknown"), builtins, deprecated


def rust_source(version, builtins, deprecated):
    def items(names):
        return "".join(f'    "{n}",\n' for n in names)
    from importlib.metadata import version as dist_version
    wheel = f"opa-golib-python-bindings {dist_version('opa-golib-python-bindings')}"
    return (
        f"//! OPA {version}'s built-in functions, for the portability lint (issue 13).\n"
        "//!\n"
        "//! Source: OPA's capabilities documents (`builtins[].name`, `deprecated`) as embedded\n"
        f"//! in the Go library of the PyPI package {wheel}, each name confirmed\n"
        "//! by compiling a call with that OPA. Generated by `scripts/opa_parity.py builtins`;\n"
        "//! `scripts/opa-parity.sh` fails when it no longer matches the pinned engine.\n"
        "//! Infix operators are built-ins too: `-` is `minus`, `==` is `equal`, and so on.\n"
        "\n"
        "/// The OPA version the lists were taken from.\n"
        f'pub const OPA_VERSION: &str = "{version}";\n'
        "\n"
        "/// Built-ins OPA accepts in Rego v1, sorted.\n"
        f"pub const OPA_BUILTINS: &[&str] = &[\n{items(builtins)}];\n"
        "\n"
        "/// Built-ins OPA knows but rejects in Rego v1 as deprecated, sorted.\n"
        f"pub const OPA_DEPRECATED: &[&str] = &[\n{items(deprecated)}];\n"
    )


def cmd_builtins(args):
    source = rust_source(*catalogue())
    if args.check is None:
        sys.stdout.write(source)
        return
    current = (ROOT / args.check).read_text()
    if current != source:
        raise Failed(f"{args.check} is not OPA's current built-in catalogue; regenerate it "
                     f"with `scripts/opa_parity.py builtins > {args.check}`")
    print(f"OPA built-ins: {args.check} matches the engine")


# What the portability lint (src/engine/lint.rs) says OPA does, checked on OPA itself:
# (what, policy, expected value of x, or the error text expected instead).
LINT_CLAIMS = [
    ("a function `minus` replaces the built-in behind `-`",
     "minus(a, b) := 7\n\nx := 5 - 1\n", 7, None),
    ("a function `count` replaces the built-in `count`",
     "count(c) := 1\n\nx := count([1, 2, 3])\n", 1, None),
    ("a rule `time` hides the built-ins `time.*`",
     "time := 1\n\nx := time.now_ns()\n", None, "undefined function"),
    ("`re_match` is rejected as deprecated",
     "x := re_match(\"a\", \"a\")\n", None, "deprecated built-in"),
    ("the regorus extension `__builtin_sets.union` is unknown",
     "x := __builtin_sets.union({1}, {2})\n", None, "undefined function"),
    ("an unknown `strings.shout` is rejected",
     "x := strings.shout(\"a\")\n", None, "undefined function"),
]


def cmd_claims(_args):
    problems = []
    for what, body, value, error in LINT_CLAIMS:
        e = OpaEngine()
        try:
            e.add_policy("claim.rego", "package claim\n\n" + body)
            got = e.eval_query("x := data.claim.x")[0]["x"]
            if error is not None or got != value:
                problems.append(f"{what}: OPA gave x = {got!r}")
        except OpaError as err:
            if error is None or error not in err.message:
                problems.append(f"{what}: OPA said {err.message}")
        finally:
            e.close()
    report(problems)
    print(f"OPA lint claims: the {len(LINT_CLAIMS)} behaviours the portability lint "
          "guards against are OPA's")


def report(problems):
    if not problems:
        return
    for p in problems[:SHOWN]:
        print(f"DIFFERENCE {p}".rstrip())
    if len(problems) > SHOWN:
        print(f"... and {len(problems) - SHOWN} more")
    raise Failed(f"{len(problems)} difference(s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tests")
    t.add_argument("rules_test_output")
    t.add_argument("dirs", nargs="+")
    f = sub.add_parser("findings")
    f.add_argument("--rules", action="append", required=True)
    f.add_argument("--require-every-rule", action="store_true")
    f.add_argument("jsonl", nargs="+")
    b = sub.add_parser("bench")
    b.add_argument("--rules", action="append", required=True)
    b.add_argument("jsonl")
    c = sub.add_parser("builtins")
    c.add_argument("--check")
    sub.add_parser("claims")
    args = ap.parse_args()
    try:
        {"tests": cmd_tests, "findings": cmd_findings, "bench": cmd_bench,
         "builtins": cmd_builtins, "claims": cmd_claims}[args.cmd](args)
    except Failed as err:
        print(f"opa-parity: FAILED: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

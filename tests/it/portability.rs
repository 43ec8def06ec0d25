//! The portability lint (issue 13) through the binary: a pack whose rules would not mean
//! the same under OPA is refused at load time, by `scan` and by `rules test`, with exit 2
//! and every problem named by file and line, with a hint. Each case is a small pack in a
//! temporary directory.

use std::path::Path;

pub(crate) use crate::support::{root, NOW};

/// (exit code, stdout, stderr) of the binary, run through the suite's one builder.
pub(crate) fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = crate::support::tw().args(args).run();
    (out.code, out.stdout, out.stderr)
}

fn scan_with(pack: &Path) -> (i32, String, String) {
    let snapshot = root().join("examples/snapshot.json");
    run(&[
        "scan".as_ref(),
        "--snapshot".as_ref(),
        snapshot.as_os_str(),
        "--now".as_ref(),
        NOW.as_ref(),
        "--rules".as_ref(),
        pack.as_os_str(),
    ])
}

fn rules_test(pack: &Path) -> (i32, String, String) {
    run(&[
        "rules".as_ref(),
        "test".as_ref(),
        "--no-default-rules".as_ref(),
        pack.as_os_str(),
    ])
}

/// A one-rule pack: the metadata and package of `team-rule`, then `body`.
fn pack(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# METADATA\n# title: t\n# custom:\n#   id: team-rule\n#   severity: low\n\
         package tokenwarden.rules.team_rule\n\n{body}"
    );
    std::fs::write(dir.path().join("team-rule.rego"), text).unwrap();
    dir
}

/// Line 8 is the first line of `body`.
const FIRST: usize = 8;

/// Both `scan` and `rules test` refuse the pack with exit 2, naming file and line.
fn refused(dir: &Path, file: &str, line: usize, message: &str, hint: &str) {
    let at = format!("{}:{line}: {message}", dir.join(file).display());
    for (cmd, (code, _, err)) in [("scan", scan_with(dir)), ("rules test", rules_test(dir))] {
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains(&at), "{cmd}: wanted {at:?} in\n{err}");
        assert!(err.contains(&format!("  hint: {hint}")), "{cmd}: {err}");
    }
}

#[test]
fn a_function_named_after_an_operator_builtin_is_refused_issue_13() {
    // The helper five default rules had: under OPA it replaced the built-in behind `-`,
    // and `(n - (n % 100)) / 100` no longer type-checked.
    let dir = pack(
        "deny contains {\"msg\": fmt_days(input.facts.age_days)} if input.facts.age_days > 1\n\n\
         fmt_days(x) := concat(\"\", [minus(x, n), sprintf(\"%d\", [(n - (n % 100)) / 100])]) if {\n\
         \tn := round(abs(x) * 100)\n}\n\n\
         minus(x, n) := \"-\" if {\n\tx < 0\n\tn > 0\n} else := \"\"\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST + 6,
        "function `minus` shadows `minus`, OPA's built-in behind the `-` operator",
        "under OPA every `-` in package tokenwarden.rules.team_rule calls this function instead of the built-in; rename it",
    );
}

#[test]
fn a_rule_named_after_a_builtin_is_refused() {
    let dir = pack("count := 3\n\ndeny contains {\"msg\": \"x\"} if count([1]) == 1\n");
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST,
        "rule `count` shadows OPA's built-in `count`",
        "under OPA every call to `count` in package tokenwarden.rules.team_rule calls this rule instead of the built-in; rename it",
    );
}

#[test]
fn a_rule_named_after_a_builtin_namespace_is_refused() {
    let dir = pack(
        "time := {\"zone\": \"UTC\"}\n\ndeny contains {\"msg\": \"x\"} if time.now_ns() > 0\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST,
        "rule `time` shadows OPA's built-ins `time.*`",
        "under OPA a call to a `time.…` built-in in package tokenwarden.rules.team_rule resolves to this rule instead; rename it",
    );
}

#[test]
fn a_call_to_a_function_opa_does_not_have_is_refused() {
    let dir = pack(
        "deny contains {\"msg\": \"x\"} if {\n\tstrings.shout(input.token.name) == \"X\"\n}\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST + 1,
        "`strings.shout` is not an OPA v1.20.2 built-in, nor a function of this pack",
        "check the spelling against OPA's built-ins",
    );
}

#[test]
fn a_regorus_only_extension_is_refused() {
    let dir = pack(
        "deny contains {\"msg\": \"x\"} if {\n\tcount(__builtin_sets.union({1}, {2})) == 2\n}\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST + 1,
        "`__builtin_sets.union` is a regorus extension that OPA v1.20.2 does not have",
        "rules must use only OPA's standard built-ins",
    );
}

#[test]
fn a_builtin_opa_deprecated_is_refused_with_its_replacement() {
    let dir = pack("deny contains {\"msg\": \"x\"} if re_match(\"^ci-\", input.token.name)\n");
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST,
        "`re_match` is deprecated: OPA rejects it in Rego v1",
        "use `regex.match` instead",
    );
}

#[test]
fn test_files_are_linted_too() {
    let dir = pack("deny contains {\"msg\": \"x\"} if input.token.name == \"x\"\n");
    std::fs::write(
        dir.path().join("team-rule_test.rego"),
        "package tokenwarden.rules.team_rule_test\n\nimport data.tokenwarden.rules.team_rule\n\n\
         plus(a, b) := a\n\ntest_fires if count(team_rule.deny) == 1 with input as {\"token\": {\"name\": \"x\"}}\n",
    )
    .unwrap();
    refused(
        dir.path(),
        "team-rule_test.rego",
        5,
        "function `plus` shadows `plus`, OPA's built-in behind the `+` operator",
        "under OPA every `+` in package tokenwarden.rules.team_rule_test calls this function",
    );
}

#[test]
fn every_problem_of_a_pack_is_reported_at_once_in_line_order() {
    let dir = pack(
        "deny contains {\"msg\": \"x\"} if {\n\tre_match(\"a\", input.token.name)\n\tstrings.shout(\"a\")\n}\n\n\
         mul(a, b) := 1\n",
    );
    let (code, _, err) = rules_test(dir.path());
    assert_eq!(code, 2, "{err}");
    let file = dir.path().join("team-rule.rego");
    // The problems' lines, without their hints or the command's closing hint.
    let lines: Vec<String> = err
        .lines()
        .map(|l| l.trim_start_matches("error: ").to_string())
        .filter(|l| l.starts_with(&file.display().to_string()))
        .collect();
    assert_eq!(
        lines,
        [
            format!("{}:9: `re_match` is deprecated: OPA rejects it in Rego v1", file.display()),
            format!(
                "{}:10: `strings.shout` is not an OPA v1.20.2 built-in, nor a function of this pack",
                file.display()
            ),
            format!(
                "{}:13: function `mul` shadows `mul`, OPA's built-in behind the `*` operator",
                file.display()
            ),
        ],
        "{err}"
    );
}

/// What the lint must not refuse: helpers with their own names, calls to the pack's own
/// functions, and the shared library, which a custom rule may import (issue 13).
#[test]
fn a_portable_pack_using_the_shared_library_loads_scans_and_tests() {
    let dir = pack(
        "import data.tokenwarden.lib\n\n\
         deny contains {\"msg\": sprintf(\"issued %s days ago\", [lib.fmt_days(age)])} if {\n\
         \tage := input.facts.age_days\n\tis_number(age)\n\tlong_ago(age)\n}\n\n\
         long_ago(days) if days > 400\n",
    );
    std::fs::write(
        dir.path().join("team-rule_test.rego"),
        "package tokenwarden.rules.team_rule_test\n\nimport data.tokenwarden.rules.team_rule\n\n\
         test_fires if {\n\tteam_rule.deny == {{\"msg\": \"issued 400.5 days ago\"}} with input as {\"facts\": {\"age_days\": 400.5}}\n}\n",
    )
    .unwrap();
    let (code, out, err) = rules_test(dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().last(), Some("1 passed, 0 failed"), "{out}");
    let (code, _, err) = scan_with(dir.path());
    assert!(code == 0 || code == 1, "{err}");
}

/// Issue 12, item 3: rules use only deterministic, offline built-ins. The clock comes from
/// `input.now`; randomness, the runtime and the network are load-time errors.
#[test]
fn nondeterministic_and_network_builtins_are_refused() {
    for (call, why) in [
        ("time.now_ns()", "reads the wall clock"),
        ("rand.intn(\"x\", 10)", "is random"),
        ("opa.runtime()", "reads the runtime's environment"),
        ("uuid.rfc4122(\"x\")", "is random"),
        (
            "http.send({\"method\": \"get\", \"url\": \"https://x.test\"})",
            "reaches the network",
        ),
        ("net.lookup_ip_addr(\"x.test\")", "reaches the network"),
    ] {
        let dir = pack(&format!(
            "deny contains {{\"msg\": \"x\"}} if {{\n\tv := {call}\n\tv != null\n}}\n"
        ));
        let name = call.split('(').next().unwrap();
        refused(
            dir.path(),
            "team-rule.rego",
            FIRST + 1,
            &format!("`{name}` {why}: a rule's result must depend on its input and data only"),
            "rules run offline and reproducibly: the clock is `input.now`",
        );
    }
}

/// Issue 12, item 3: unbounded recursion used to overflow the stack and abort the scanner
/// (exit 134). OPA rejects recursion at compile time; so does the lint, naming the cycle.
#[test]
fn recursive_functions_are_refused_before_they_can_overflow_the_stack() {
    let dir = pack(
        "f(x) := y if {\n\ty := f(x + 1)\n}\n\ndeny contains {\"msg\": \"x\"} if f(input.facts.age_days) > 0\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST,
        "`f` is recursive (f → f): OPA rejects recursion, and it would never end",
        "Rego rules and functions may not call themselves",
    );
    let dir = pack(
        "ping(x) := pong(x)\n\npong(x) := ping(x)\n\ndeny contains {\"msg\": \"x\"} if ping(1) > 0\n",
    );
    refused(
        dir.path(),
        "team-rule.rego",
        FIRST,
        "`ping` is recursive (ping → pong → ping)",
        "Rego rules and functions may not call themselves",
    );
}

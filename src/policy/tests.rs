//! Policy parsing and validation: defaults, overrides, and errors with lines.

use super::*;
use chrono::{DateTime, Utc};

fn parse(text: &str) -> Result<GovernancePolicy, PolicyError> {
    GovernancePolicy::parse(text, "p.toml", Some(GovernancePolicy::builtin().unwrap()))
}

fn problems(text: &str) -> Vec<PolicyProblem> {
    match parse(text) {
        Err(PolicyError::Invalid { problems, .. }) => problems,
        other => panic!("expected invalid policy, got {other:?}"),
    }
}

#[test]
fn builtin_policy_has_design_defaults() {
    let p = GovernancePolicy::builtin().unwrap();
    assert_eq!(p.thresholds.max_lifetime_days, 90.0);
    assert_eq!(p.thresholds.min_ipv4_prefix, 16);
    assert_eq!(p.thresholds.min_ipv6_prefix, 48);
    assert_eq!(p.thresholds.max_permission_groups, 10);
    assert_eq!(p.thresholds.lingering_days, 30.0);
    assert_eq!(p.fail_on, FailOn::High);
    assert_eq!(p.remediation.max_actions, 5);
    assert_eq!(p.lists.privilege_escalation_groups.len(), 3);
    assert_eq!(p.lists.sensitive_write_groups.len(), 10);
    assert_eq!(p.config_data()["max_lifetime_days"], serde_json::json!(90));
}

#[test]
fn shipped_policies_parse() {
    for (name, text) in [
        ("strict.toml", include_str!("../../policies/strict.toml")),
        ("example.toml", include_str!("../../policies/example.toml")),
    ] {
        let p = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.source.is_empty());
    }
}

#[test]
fn a_file_overrides_key_by_key() {
    let p = parse("[thresholds]\nmax_lifetime_days = 30.5\n").unwrap();
    assert_eq!(p.thresholds.max_lifetime_days, 30.5);
    assert_eq!(
        p.thresholds.max_unused_days, 90.0,
        "untouched keys keep the default"
    );
    assert_eq!(p.fail_on, FailOn::High);
}

#[test]
fn unknown_keys_name_key_and_line() {
    let ps = problems(
        "[thresholds]\nmax_lifetime_days = 30\nmax_lifetim_days = 3\n\n[gat]\nfail_on = \"low\"\n",
    );
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert_eq!(ps[0].line, 3);
    assert_eq!(ps[0].key, "thresholds.max_lifetim_days");
    assert!(ps[0].message.contains("unknown key"));
    assert_eq!(ps[1].line, 5);
    assert_eq!(ps[1].key, "gat");
}

#[test]
fn all_problems_are_collected_and_rendered_with_file_and_line() {
    let text = "[gate]\nfail_on = \"sometimes\"\n[thresholds]\nmin_ipv4_prefix = 33\nmax_unused_days = \"ninety\"\n";
    let err = parse(text).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("p.toml:2: gate.fail_on"), "{msg}");
    assert!(
        msg.contains("p.toml:4: thresholds.min_ipv4_prefix: 33 is out of range"),
        "{msg}"
    );
    assert!(
        msg.contains("p.toml:5: thresholds.max_unused_days: expected a number"),
        "{msg}"
    );
}

#[test]
fn toml_syntax_error_has_a_line() {
    let ps = problems("[thresholds]\nmax_lifetime_days = = 3\n");
    assert_eq!(ps[0].line, 2);
    assert!(ps[0].message.contains("not valid TOML"));
}

#[test]
fn negative_and_wrong_type_values() {
    let ps = problems("[thresholds]\nmax_lifetime_days = -1\n[remediation]\nmax_actions = 1.5\n");
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert!(ps[0].message.contains("out of range"));
    assert!(ps[1].message.contains("expected an integer"));
}

#[test]
fn severity_and_action_values_are_checked() {
    let ps = problems("[rules]\nseverity = { \"token-unused\" = \"urgent\" }\n[remediation]\nactions = { \"token-unused\" = \"delete\" }\n");
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert!(ps[0].message.contains("unknown severity"));
    assert!(ps[1].message.contains("unknown action"));
}

const EXEMPTION: &str = "[[exemptions]]\nrule = \"token-no-ip-restriction\"\ntoken_name = \"ci-*\"\nreason = \"r\"\nowner = \"o@example.com\"\nexpires = 2027-01-31\n";

#[test]
fn exemption_parses_with_date_literal_or_string() {
    let p = parse(EXEMPTION).unwrap();
    assert_eq!(p.exemptions.len(), 1);
    assert_eq!(
        p.exemptions[0].expires,
        NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()
    );
    let p = parse(&EXEMPTION.replace("2027-01-31", "\"2027-01-31\"")).unwrap();
    assert_eq!(
        p.exemptions[0].expires,
        NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()
    );
}

#[test]
fn exemption_requires_expiry_reason_and_owner() {
    let ps = problems("[[exemptions]]\nrule = \"*\"\ntoken_name = \"x\"\nreason = \"\"\n");
    let keys: Vec<&str> = ps.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"exemptions[0].reason"), "{keys:?}");
    assert!(keys.contains(&"exemptions[0].owner"), "{keys:?}");
    assert!(keys.contains(&"exemptions[0].expires"), "{keys:?}");
    let ps = problems(&EXEMPTION.replace("2027-01-31", "\"31/01/2027\""));
    assert!(ps[0].message.contains("invalid date"), "{ps:?}");
}

#[test]
fn exemption_is_active_through_its_expiry_day() {
    let p = parse(EXEMPTION).unwrap();
    let e = &p.exemptions[0];
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    assert!(e.is_active(t("2027-01-31T23:59:59Z")));
    assert!(!e.is_active(t("2027-02-01T00:00:00Z")));
}

#[test]
fn unknown_rule_ids_are_reported_with_lines() {
    let p = parse("[rules]\ndisabled = [\"token-no-expiry\", \"token-typo\"]\n").unwrap();
    let known: BTreeSet<String> = ["token-no-expiry".to_string()].into();
    let err = p.check_rule_ids(&known).unwrap_err().to_string();
    assert!(
        err.contains("p.toml:2: rules.disabled: unknown rule id \"token-typo\""),
        "{err}"
    );
    let p = parse(&EXEMPTION.replace("token-no-ip-restriction", "*")).unwrap();
    assert!(
        p.check_rule_ids(&known).is_ok(),
        "\"*\" is allowed in exemptions"
    );
}

#[test]
fn an_exemptions_file_holds_only_exemptions_and_names_itself() {
    let ex = GovernancePolicy::parse_exemptions(
        &format!("# team exemptions\n{EXEMPTION}"),
        "exemptions.toml",
    )
    .unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].source, "exemptions.toml");
    assert_eq!(ex[0].line, 2, "the [[exemptions]] header's line");
    assert_eq!(ex[0].location(), "exemptions.toml:2");
    let err = GovernancePolicy::parse_exemptions(
        &format!("[gate]\nfail_on = \"low\"\n{EXEMPTION}colour = \"red\"\n"),
        "ex.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ex.toml:1: gate: unknown key"), "{err}");
    assert!(
        err.contains("ex.toml:9: exemptions[0].colour: unknown key"),
        "{err}"
    );
    let err = GovernancePolicy::parse_exemptions("[[exemptions]\n", "ex.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ex.toml:1: not valid TOML"), "{err}");
    assert!(GovernancePolicy::parse_exemptions("", "empty.toml")
        .unwrap()
        .is_empty());
}

#[test]
fn unknown_rule_ids_in_a_merged_exemptions_file_name_that_file() {
    let mut p = parse("[rules]\ndisabled = [\"token-no-expiry\"]\n").unwrap();
    let ex = GovernancePolicy::parse_exemptions(
        &EXEMPTION.replace("token-no-ip-restriction", "token-typo"),
        "team.toml",
    )
    .unwrap();
    p.exemptions.extend(ex);
    let known: BTreeSet<String> = ["token-no-expiry".to_string()].into();
    let err = p.check_rule_ids(&known).unwrap_err().to_string();
    assert!(
        err.contains("team.toml:2: exemptions.rule: unknown rule id \"token-typo\""),
        "{err}"
    );
}

/// Issue 12, item 7: an exemption names a token id or a name glob, never an ambiguous
/// `token`, never both; an id is a Cloudflare id.
#[test]
fn an_exemption_names_a_token_id_or_a_name_glob_unambiguously() {
    let ps = problems(&EXEMPTION.replace("token_name = \"ci-*\"", "token = \"ci-*\""));
    assert!(
        ps.iter()
            .any(|p| p.key == "exemptions[0].token" && p.message.contains("ambiguous")),
        "{ps:?}"
    );
    let both = EXEMPTION.replace(
        "token_name = \"ci-*\"",
        "token_name = \"ci-*\"\ntoken_id = \"118023fbf9e1fba030f7699aa4fce88a\"",
    );
    assert!(problems(&both)
        .iter()
        .any(|p| p.message.contains("not both")));
    let neither = EXEMPTION.replace("token_name = \"ci-*\"\n", "");
    assert!(problems(&neither)
        .iter()
        .any(|p| p.message.contains("token_id or token_name")));
    let bad_id = EXEMPTION.replace("token_name = \"ci-*\"", "token_id = \"ci-deploy\"");
    let ps = problems(&bad_id);
    assert!(
        ps[0].key == "exemptions[0].token_id" && ps[0].message.contains("not a token id"),
        "{ps:?}"
    );
    let p = parse(&EXEMPTION.replace(
        "token_name = \"ci-*\"",
        "token_id = \"118023fbf9e1fba030f7699aa4fce88a\"",
    ))
    .unwrap();
    assert_eq!(
        p.exemptions[0].token,
        TokenMatch::Id("118023fbf9e1fba030f7699aa4fce88a".into())
    );
}

#[test]
fn a_token_id_never_matches_a_token_named_like_it() {
    use crate::finding::{Action, Evidence, RawFinding, Severity};
    use crate::scope::Owner;
    const ID: &str = "118023fbf9e1fba030f7699aa4fce88a";
    let by_id = parse(&EXEMPTION.replace("token_name = \"ci-*\"", &format!("token_id = \"{ID}\"")))
        .unwrap();
    let by_name =
        parse(&EXEMPTION.replace("token_name = \"ci-*\"", &format!("token_name = \"{ID}\"")))
            .unwrap();
    let finding = |token_id: &str, name: &str| RawFinding {
        rule_id: "token-no-ip-restriction".into(),
        severity: Severity::High,
        default_action: Action::None,
        owner: Owner::User { id: None }.into(),
        token_id: token_id.into(),
        token_name: Some(name.into()),
        message: String::new(),
        evidence: Evidence::empty(),
    };
    let impostor = finding("0000000000000000000000000000dead", ID);
    let real = finding(ID, "ci-deploy-production");
    assert!(by_id.exemptions[0].matches(&real));
    assert!(
        !by_id.exemptions[0].matches(&impostor),
        "a token named like the id must not be exempted"
    );
    assert!(by_name.exemptions[0].matches(&impostor));
    assert!(
        !by_name.exemptions[0].matches(&real),
        "a name glob never matches an id"
    );
}

#[test]
fn exemptions_expire_within_the_limit_of_days() {
    let now = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    let far = parse(&EXEMPTION.replace("2027-01-31", "9999-12-31")).unwrap();
    let e = far
        .check_exemption_horizon(now("2026-11-22T10:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p.toml:1: expires: 9999-12-31 is more than [limits] max_exemption_days (365)")
            && e.contains("on or before 2027-11-22"),
        "{e}"
    );
    // The bound itself is allowed; the day after is not.
    let p = parse(&EXEMPTION.replace("2027-01-31", "2027-11-22")).unwrap();
    assert!(p
        .check_exemption_horizon(now("2026-11-22T10:00:00Z"))
        .is_ok());
    let p = parse(&EXEMPTION.replace("2027-01-31", "2027-11-23")).unwrap();
    assert!(p
        .check_exemption_horizon(now("2026-11-22T10:00:00Z"))
        .is_err());
    // The limit is configurable, within its range.
    let p = parse(&format!("[limits]\nmax_exemption_days = 30\n\n{EXEMPTION}")).unwrap();
    assert!(p
        .check_exemption_horizon(now("2026-11-22T10:00:00Z"))
        .is_err());
    assert!(p
        .check_exemption_horizon(now("2027-01-10T00:00:00Z"))
        .is_ok());
    for bad in ["0", "3651", "-1"] {
        let ps = problems(&format!("[limits]\nmax_exemption_days = {bad}\n"));
        assert!(ps[0].message.contains("out of range"), "{bad}: {ps:?}");
    }
}

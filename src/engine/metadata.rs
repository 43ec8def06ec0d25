//! A rule file's OPA `# METADATA` block (package scope): parsed by tokenwarden itself
//! (regorus does not expose annotations) and validated — required keys, kebab-case id,
//! severity and remediation values, OPA's annotation keys only, and a package named after
//! the id — with every error naming the file and the line of the offending key.

use serde::Deserialize;

use super::{RegoFile, RuleError, RuleMeta};
use crate::finding::{Action, Severity};

#[derive(Deserialize)]
#[serde(untagged)]
enum RelatedResource {
    Url(String),
    Ref {
        #[serde(rename = "ref")]
        href: String,
    },
}

/// OPA's annotation keys; anything else (say, `severity:` outside `custom:`) is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    title: Option<String>,
    description: Option<String>,
    related_resources: Option<Vec<RelatedResource>>,
    custom: Option<RawCustom>,
    // Accepted (they are OPA's) but not used by tokenwarden.
    #[serde(rename = "scope")]
    _scope: Option<serde::de::IgnoredAny>,
    #[serde(rename = "authors")]
    _authors: Option<serde::de::IgnoredAny>,
    #[serde(rename = "organizations")]
    _organizations: Option<serde::de::IgnoredAny>,
    #[serde(rename = "schemas")]
    _schemas: Option<serde::de::IgnoredAny>,
    #[serde(rename = "entrypoint")]
    _entrypoint: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawCustom {
    id: Option<String>,
    severity: Option<String>,
    remediation: Option<String>,
    tags: Option<Vec<String>>,
}

fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The 1-based line of `key:` inside the METADATA block (after `custom:` for custom keys),
/// so an error points at the key itself.
fn key_line(lines: &[&str], start: usize, end: usize, key: &str, in_custom: bool) -> Option<usize> {
    let content = |l: &str| l.trim_start().trim_start_matches('#').trim().to_string();
    let from = if in_custom {
        (start..end).find(|&i| content(lines[i]).starts_with("custom:"))?
    } else {
        start
    };
    (from..end)
        .find(|&i| content(lines[i]).starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

/// The line of a rule file's `custom.id` (1 when there is none): for duplicate-id errors.
pub(super) fn id_line(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    key_line(&lines, 0, lines.len(), "id", true).unwrap_or(1)
}

/// Parse the OPA `# METADATA` block (package scope) that opens a rule file; regorus does
/// not expose annotations, so tokenwarden reads them itself.
pub fn parse_metadata(file: &RegoFile) -> Result<RuleMeta, RuleError> {
    let err = |line: usize, message: String| RuleError::Metadata {
        file: file.path.clone(),
        line,
        message,
    };
    let lines: Vec<&str> = file.text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "# METADATA")
        .ok_or_else(|| {
            err(
                1,
                "no `# METADATA` block: every rule file opens with one".into(),
            )
        })?;
    let mut yaml = String::new();
    let mut end = start + 1;
    while end < lines.len() && lines[end].trim_start().starts_with('#') {
        let l = lines[end].trim_start().trim_start_matches('#');
        yaml.push_str(l.strip_prefix(' ').unwrap_or(l));
        yaml.push('\n');
        end += 1;
    }
    let block_line = start + 2;
    let at = |key: &str, in_custom: bool| {
        key_line(&lines, start, end, key, in_custom).unwrap_or(block_line)
    };
    let raw: RawMeta = yaml_serde::from_str(&yaml).map_err(|e| {
        let line = e
            .location()
            .map_or(block_line, |l| block_line + l.line().saturating_sub(1));
        err(line, format!("METADATA is not valid YAML: {e}"))
    })?;
    let custom = raw.custom.ok_or_else(|| {
        err(
            block_line,
            "METADATA has no `custom:` section (id, severity)".into(),
        )
    })?;
    let custom_line = at("custom", false);
    let id = custom
        .id
        .ok_or_else(|| err(custom_line, "METADATA custom.id is missing".into()))?;
    if !is_kebab_id(&id) {
        return Err(err(
            at("id", true),
            format!("rule id {id:?} is not kebab-case (e.g. token-no-expiry)"),
        ));
    }
    let severity = custom
        .severity
        .ok_or_else(|| {
            err(
                custom_line,
                format!("rule {id}: METADATA custom.severity is missing"),
            )
        })?
        .parse::<Severity>()
        .map_err(|e| {
            err(
                at("severity", true),
                format!("rule {id}: custom.severity: {e}"),
            )
        })?;
    let remediation = match custom.remediation {
        None => Action::None,
        Some(r) => r.parse::<Action>().map_err(|e| {
            err(
                at("remediation", true),
                format!("rule {id}: custom.remediation: {e}"),
            )
        })?,
    };
    let title = raw
        .title
        .ok_or_else(|| err(block_line, format!("rule {id}: METADATA title is missing")))?;
    let expected = format!("tokenwarden.rules.{}", id.replace('-', "_"));
    let (pkg_line, package) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            l.trim()
                .strip_prefix("package ")
                .map(|p| (i + 1, p.trim().to_string()))
        })
        .ok_or_else(|| err(end + 1, "no `package` declaration".into()))?;
    if package != expected {
        return Err(err(
            pkg_line,
            format!("package {package} does not match rule id {id}: expected `package {expected}`"),
        ));
    }
    Ok(RuleMeta {
        id,
        title,
        description: raw.description.unwrap_or_default().trim().to_string(),
        related_resources: raw
            .related_resources
            .unwrap_or_default()
            .into_iter()
            .map(|r| match r {
                RelatedResource::Url(u) => u,
                RelatedResource::Ref { href } => href,
            })
            .collect(),
        severity,
        remediation,
        tags: custom.tags.unwrap_or_default(),
        package,
        file: file.path.clone(),
        origin: file.origin.clone(),
    })
}

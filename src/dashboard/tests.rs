//! The dashboard renderer: escaping, the policy, geometry, empty and large inputs,
//! determinism, and a snapshot of a small page.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::html::{clip, esc, int, signed};
use super::svg::{nice_step, time_ticks};
use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    at("2026-11-22T10:00:00Z")
}

fn scan(id: i64, at: DateTime<Utc>, open: [usize; 4]) -> ScanPoint {
    ScanPoint {
        id,
        at,
        tokens: 10,
        open,
        new: 1,
        resolved: 2,
        drifted: 1,
        overdue: 1,
    }
}

fn finding(rule: &str, sev: Severity, owner: &str, token: &str, due_days_ago: i64) -> OpenFinding {
    let due = now() - Duration::days(due_days_ago);
    OpenFinding {
        rule_id: rule.into(),
        severity: sev,
        token_id: format!("{token}-id"),
        token_name: token.into(),
        owner: owner.into(),
        first_seen: due - Duration::days(30),
        age_days: 30 + due_days_ago,
        due: Some(due),
        overdue: due_days_ago > 0,
        exempted: false,
    }
}

/// A small dashboard with one of everything.
fn small() -> DashboardData {
    DashboardData {
        generated_at: now(),
        title: "tokenwarden — scope all".into(),
        scans: vec![
            scan(1, at("2026-11-20T02:00:00Z"), [1, 2, 3, 4]),
            scan(2, at("2026-11-21T02:00:00Z"), [0, 3, 3, 5]),
            scan(3, at("2026-11-22T02:00:00Z"), [1, 2, 2, 4]),
        ],
        expiring: vec![ExpiringToken {
            token_id: "t1".into(),
            token_name: "ci-deploy".into(),
            owner: "acme".into(),
            expires_on: now() + Duration::days(12),
        }],
        open_findings: vec![
            finding("token-no-expiry", Severity::High, "acme", "ci-deploy", 3),
            finding(
                "token-can-manage-tokens",
                Severity::Critical,
                "user",
                "admin",
                10,
            ),
            finding("token-unused", Severity::Medium, "acme", "old", -20),
        ],
        drift: vec![DriftEntry {
            at: at("2026-11-22T02:00:00Z"),
            token_id: "t1".into(),
            token_name: "ci-deploy".into(),
            owner: "acme".into(),
            changes: vec![
                "+ \"Zone Write\" on com.cloudflare.api.account.zone.*".into(),
                "- condition.request_ip.in".into(),
                "expires_on 2026-12-01 → null".into(),
            ],
        }],
        not_evaluated: vec![NotEvaluatedScope {
            scope: "account staging".into(),
            reason: "403 Forbidden".into(),
        }],
    }
}

const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "\"onload=alert(1) x=\"",
    "' onmouseover='alert(1)",
    "]]><svg onload=alert(1)>",
    "abc\u{202e}fed\u{2066}",
    "<img src=\"https://evil.test/x.png\">",
    "<link rel=stylesheet href=//evil.test/s.css>",
    "a\u{1b}[8mb\r\nc",
    "&amp; &#60;",
];

/// Every outside string of the data set to each hostile value in turn.
fn hostile(name: &str) -> DashboardData {
    let mut d = small();
    d.title = name.into();
    for f in &mut d.open_findings {
        f.rule_id = name.into();
        f.token_id = name.into();
        f.token_name = name.into();
        f.owner = name.into();
    }
    for t in &mut d.expiring {
        t.token_id = name.into();
        t.token_name = name.into();
        t.owner = name.into();
    }
    for e in &mut d.drift {
        e.token_id = name.into();
        e.token_name = name.into();
        e.owner = name.into();
        e.changes.push(name.into());
    }
    d.not_evaluated[0].scope = name.into();
    d.not_evaluated[0].reason = name.into();
    d
}

/// The text of the page's one `<style>` element.
fn style_of(html: &str) -> &str {
    let start = html.find("<style>").unwrap() + "<style>".len();
    let end = html.find("</style>").unwrap();
    &html[start..end]
}

#[test]
fn outside_text_is_escaped_for_text_and_attributes() {
    assert_eq!(
        esc("<script>\"x\" & 'y'</script>"),
        "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
    );
    assert_eq!(esc("a\u{202e}b"), "a\\u{202e}b");
    assert_eq!(esc("x\ny\u{1b}"), "x\\ny\\e");
    assert_eq!(esc("]]>"), "]]&gt;");
    assert_eq!(esc("naïve ✓"), "naïve ✓");
}

/// Every element and attribute name of a page, read the way a browser's tokenizer would
/// for our output: a `<` always opens a tag (text never holds a raw one), attribute values
/// are double-quoted and hold no raw `"`.
fn markup(html: &str) -> (Vec<String>, Vec<String>) {
    let (mut tags, mut attrs) = (Vec::new(), Vec::new());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '!' | '/' | '-'))
            .collect();
        tags.push(name.trim_start_matches('/').to_ascii_lowercase());
        rest = &rest[name.len()..];
        if name == "!doctype" {
            rest = rest.trim_start().strip_prefix("html").unwrap();
        }
        loop {
            rest = rest.trim_start();
            if rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let attr: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '=' | '>' | '/'))
                .collect();
            assert!(
                !attr.is_empty(),
                "unparsable tag near {:?}",
                &rest[..rest.len().min(40)]
            );
            rest = &rest[attr.len()..];
            attrs.push(attr.to_ascii_lowercase());
            if let Some(value) = rest.strip_prefix("=\"") {
                let end = value.find('"').unwrap();
                assert!(!value[..end].contains('<'), "raw < in an attribute value");
                rest = &value[end + 1..];
            } else {
                assert!(!rest.starts_with('='), "unquoted attribute value {attr}");
            }
        }
    }
    (tags, attrs)
}

const TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2",
    "div", "section", "p", "strong", "span", "code", "ul", "ol", "li", "table", "thead", "tbody",
    "tfoot", "tr", "th", "td", "time", "footer", "svg", "g", "path", "rect", "line", "circle",
    "text",
];
const ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "id",
    "class",
    "title",
    "role",
    "aria-labelledby",
    "viewbox",
    "d",
    "x",
    "y",
    "x1",
    "x2",
    "y1",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "dy",
    "width",
    "height",
    "text-anchor",
    "datetime",
    "scope",
    "data-scan",
    "data-total",
    "data-token",
    "data-days",
];

#[test]
fn hostile_names_never_become_markup() {
    let (_, clean_attrs) = markup(&render(&hostile("harmless")));
    for name in HOSTILE {
        let html = render(&hostile(name));
        let (tags, attrs) = markup(&html);
        for tag in &tags {
            assert!(TAGS.contains(&tag.as_str()), "{name:?} made a <{tag}>");
        }
        for attr in &attrs {
            assert!(
                ATTRIBUTES.contains(&attr.as_str()),
                "{name:?} made an attribute {attr}"
            );
        }
        // The same markup as with harmless names: nothing added, nothing closed early.
        assert_eq!(attrs.len(), clean_attrs.len(), "{name:?}");
        for raw in ['\u{202e}', '\u{2066}', '\u{1b}', '\r'] {
            assert!(!html.contains(raw), "{name:?} put {raw:?} into the page");
        }
        // The name is shown (escaped), not dropped.
        assert!(html.contains(&esc(name)), "{name:?} missing");
    }
}

#[test]
fn the_page_loads_and_runs_nothing() {
    let html = render(&small());
    let (tags, attrs) = markup(&html);
    assert!(tags.iter().all(|t| TAGS.contains(&t.as_str())), "{tags:?}");
    assert!(
        attrs.iter().all(|a| ATTRIBUTES.contains(&a.as_str())),
        "{attrs:?}"
    );
    assert!(!attrs
        .iter()
        .any(|a| a == "src" || a == "href" || a.starts_with("on")));
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "http://",
        "https://",
        "url(",
        "@import",
        "@font-face",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        " on",
    ] {
        let hit = if bad == " on" {
            // No event-handler attribute of any kind.
            lower.match_indices(" on").any(|(i, _)| {
                let rest = &lower[i + 3..];
                let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
                rest[word.len()..].starts_with('=')
            })
        } else {
            lower.contains(bad)
        };
        assert!(!hit, "the page contains {bad:?}");
    }
}

#[test]
fn the_policy_admits_exactly_the_style_sheet() {
    let html = render(&small());
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(style_of(&html).as_bytes()),
    );
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'\">"
    );
    assert!(html.contains(&meta), "{meta}");
    // The policy comes before anything it governs.
    assert!(html.find(&meta).unwrap() < html.find("<style>").unwrap());
    assert!(!html.contains("unsafe-inline"));
    // A style attribute would be refused by the policy; the page uses none.
    assert!(!html.contains(" style="));
    assert!(html.contains("@media (prefers-color-scheme:dark)"));
}

#[test]
fn the_same_data_gives_the_same_bytes_whatever_the_order_of_findings() {
    let a = render(&small());
    assert_eq!(a, render(&small()));
    let mut shuffled = small();
    shuffled.open_findings.reverse();
    shuffled.expiring.reverse();
    shuffled.scans.reverse();
    assert_eq!(a, render(&shuffled));
}

#[test]
fn no_scans_render_an_empty_state() {
    let html = render(&DashboardData::default());
    assert!(html.contains("No scans recorded yet"), "{html}");
    assert!(html.contains("No token expires in the next 90 days"));
    assert!(html.contains("No open findings in the latest scan"));
    assert!(html.contains("No finding is past its remediation deadline"));
    assert!(html.contains("Every scope was read and evaluated"));
    assert!(!html.contains("<svg"));
    assert!(!html.contains("not-evaluated-warning"));
    for bad in ["NaN", "inf", "-0.0"] {
        assert!(!html.contains(bad), "{bad}");
    }
}

/// Every number in the chart's geometry attributes and path data.
fn coordinates(svg: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for attr in [
        " x=\"",
        " y=\"",
        " x1=\"",
        " x2=\"",
        " y1=\"",
        " y2=\"",
        " width=\"",
        " height=\"",
        " d=\"",
        " cx=\"",
        " cy=\"",
    ] {
        for (i, _) in svg.match_indices(attr) {
            let rest = &svg[i + attr.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            for part in value.split(|c: char| c.is_ascii_alphabetic() || c == ' ') {
                if !part.is_empty() {
                    out.push(part.parse::<f64>().unwrap_or(f64::NAN));
                }
            }
        }
    }
    out
}

fn svg_by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<svg id=\"{id}\"")).unwrap();
    let end = start + html[start..].find("</svg>").unwrap();
    &html[start..end]
}

fn assert_inside_viewbox(svg: &str) {
    let vb = &svg[svg.find("viewBox=\"").unwrap() + 9..];
    let vb: Vec<f64> = vb[..vb.find('"').unwrap()]
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let limit = vb[2].max(vb[3]);
    let coords = coordinates(svg);
    assert!(!coords.is_empty());
    for v in coords {
        assert!(
            v.is_finite() && (0.0..=limit).contains(&v),
            "{v} outside {vb:?}"
        );
    }
}

#[test]
fn one_scan_is_drawn_as_a_bar_and_nothing_divides_by_zero() {
    let mut d = small();
    d.scans.truncate(1);
    let html = render(&d);
    let svg = svg_by_id(&html, "trend-chart");
    assert_inside_viewbox(svg);
    assert_eq!(svg.matches("<rect class=\"hit\"").count(), 1);
    assert!(html.contains("the trend appears from the second scan on"));
    // Scans that share one instant are spread by position instead.
    let mut d = small();
    for s in &mut d.scans {
        s.at = now();
    }
    assert_inside_viewbox(svg_by_id(&render(&d), "trend-chart"));
    // Scans with no findings at all still get a y axis.
    let mut d = small();
    for s in &mut d.scans {
        s.open = [0; 4];
        s.overdue = 0;
    }
    assert_inside_viewbox(svg_by_id(&render(&d), "trend-chart"));
}

#[test]
fn the_trend_stacks_severities_to_the_scan_total() {
    let html = render(&small());
    let svg = svg_by_id(&html, "trend-chart");
    assert_inside_viewbox(svg);
    for sev in ["critical", "high", "medium", "low"] {
        assert!(
            svg.contains(&format!("<path class=\"area sev-{sev}\"")),
            "{sev}"
        );
    }
    // Totals 10, 11, 9: the axis runs to 12 in steps of 5 → 15; the latest scan's total
    // of 9 is 9/15 of the plot height (252) above its bottom (266).
    assert!(svg.contains(">15</text>"));
    let top_of_low = svg
        .split("<path class=\"area sev-low\" d=\"M")
        .nth(1)
        .unwrap();
    let last_top = top_of_low.split('L').nth(2).unwrap();
    assert_eq!(last_top, format!("944.0 {:.1}", 266.0 - 9.0 / 15.0 * 252.0));
    // One tooltip region per scan, carrying its numbers.
    assert_eq!(svg.matches("<rect class=\"hit\"").count(), 3);
    assert!(svg.contains("data-scan=\"3\" data-total=\"9\""));
    assert!(svg.contains(
        "<title>Scan #3 · 2026-11-22 02:00 UTC\n1 critical · 2 high · 2 medium · 4 low (9 open)"
    ));
}

#[test]
fn the_expiry_timeline_places_tokens_by_days_left() {
    let mut d = small();
    d.expiring = [0i64, 5, 29, 31, 61, 89]
        .iter()
        .map(|days| ExpiringToken {
            token_id: format!("t{days}"),
            token_name: format!("tok{days}"),
            owner: "acme".into(),
            expires_on: now() + Duration::days(*days) + Duration::hours(1),
        })
        .collect();
    d.expiring.push(ExpiringToken {
        token_id: "gone".into(),
        token_name: "gone".into(),
        owner: "acme".into(),
        expires_on: now() - Duration::days(2),
    });
    let html = render(&d);
    let svg = svg_by_id(&html, "expiry-chart");
    assert_inside_viewbox(svg);
    // Soonest first, the expired one at the start, each in its band.
    let order: Vec<&str> = svg
        .match_indices("data-token=\"")
        .map(|(i, _)| {
            let rest = &svg[i + 12..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(order, ["gone", "t0", "t5", "t29", "t31", "t61", "t89"]);
    assert!(svg.contains("data-token=\"t29\" data-days=\"29\""));
    assert!(svg.contains("expired"));
    assert_eq!(svg.matches("lifebar exp30").count(), 2 * 4);
    assert_eq!(svg.matches("lifebar exp60").count(), 2);
    assert_eq!(svg.matches("lifebar exp90").count(), 2 * 2);
    // Tiles count cumulatively: within 30, 60, 90 days.
    for (id, n) in [("expiring-30", 4), ("expiring-60", 5), ("expiring-90", 7)] {
        assert!(
            html.contains(&format!(
                "id=\"tile-{id}\"><div class=\"k\">Expiring ≤ {} d</div><div class=\"v\">{n}</div>",
                &id[9..]
            )),
            "{id}"
        );
    }
}

#[test]
fn overdue_findings_come_most_overdue_first_and_exempted_ones_never() {
    let mut d = small();
    d.open_findings.push(OpenFinding {
        exempted: true,
        ..finding("exempted-rule", Severity::Critical, "acme", "x", 99)
    });
    let html = render(&d);
    let table = &html[html.find("id=\"overdue-table\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let admin = table.find("admin").unwrap();
    let ci = table.find("ci-deploy").unwrap();
    assert!(admin < ci, "10 days overdue before 3 days overdue");
    assert!(table.contains(">10 d</td>") && table.contains(">3 d</td>"));
    assert!(!table.contains("exempted-rule") && !table.contains(">old<"));
    assert!(!html[html.find("id=\"heat-map\"").unwrap()..].contains("exempted-rule"));
}

#[test]
fn a_scope_not_evaluated_is_a_prominent_warning() {
    let html = render(&small());
    let warning = html.find("id=\"not-evaluated-warning\"").unwrap();
    assert!(
        warning < html.find("id=\"tiles\"").unwrap(),
        "above the tiles"
    );
    assert!(html.contains("1 scope was not evaluated in the latest scan."));
    assert!(html.contains("class=\"tile warning\" id=\"tile-not-evaluated-count\""));
}

#[test]
fn tiles_show_the_latest_scan_and_the_change_since_the_one_before() {
    let html = render(&small());
    assert!(html.contains("id=\"tile-open-critical\"><div class=\"k\">Open critical</div><div class=\"v\">1</div><div class=\"d up\">+1 vs previous scan</div>"));
    assert!(html.contains("id=\"tile-open-low\"><div class=\"k\">Open low</div><div class=\"v\">4</div><div class=\"d down\">−1 vs previous scan</div>"));
    assert!(html.contains("id=\"tile-open-medium\"><div class=\"k\">Open medium</div><div class=\"v\">2</div><div class=\"d down\">−1 vs previous scan</div>"));
}

#[test]
fn a_year_of_scans_and_a_thousand_findings_render_fast_and_are_cut_short() {
    let mut d = small();
    let start = now() - Duration::days(365);
    d.scans = (0..365)
        .map(|i| scan(i, start + Duration::days(i), [i as usize % 3, 40, 200, 700]))
        .collect();
    d.open_findings = (0..1000)
        .map(|i| {
            finding(
                &format!("rule-{}", i % 40),
                SEVERITIES[i % 4],
                &format!("account-{}", i % 30),
                &format!("token-{i}"),
                (i % 50) as i64,
            )
        })
        .collect();
    d.expiring = (0..200)
        .map(|i| ExpiringToken {
            token_id: format!("t{i}"),
            token_name: format!("t{i}"),
            owner: "acme".into(),
            expires_on: now() + Duration::hours(i * 10),
        })
        .collect();
    d.drift = vec![small().drift[0].clone(); 100];
    d.drift[0].changes = vec!["+ x".into(); 40];
    let started = std::time::Instant::now();
    let html = render(&d);
    assert!(
        started.elapsed().as_secs_f64() < 1.0,
        "{:?}",
        started.elapsed()
    );
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    assert_inside_viewbox(svg_by_id(&html, "trend-chart"));
    assert_inside_viewbox(svg_by_id(&html, "expiry-chart"));
    assert!(html.contains("… and 170 more tokens expiring later."));
    assert!(html.contains("… and 15 more rules not shown."));
    assert!(html.contains("other 18 accounts"));
    assert!(html.contains("… and 75 more drifted tokens not shown."));
    assert!(html.contains("… and 28 more changes"));
    assert!(html.contains("… and 930 more overdue findings not shown."));
    assert_eq!(html.matches("<tr><td><span class=\"badge").count(), 50);
}

#[test]
fn steps_and_ticks_are_round() {
    assert_eq!(
        [0, 1, 4, 5, 9, 20, 43, 100, 999, 12_345].map(nice_step),
        [1, 1, 1, 2, 5, 5, 20, 50, 500, 5000]
    );
    for (from, to) in [
        ("2026-11-22T01:00:00Z", "2026-11-22T02:30:00Z"),
        ("2026-11-22T01:10:00Z", "2026-11-22T23:00:00Z"),
        ("2026-11-01T02:00:00Z", "2026-11-07T02:00:00Z"),
        ("2026-10-24T02:00:00Z", "2026-11-22T02:08:00Z"),
        ("2025-11-22T02:00:00Z", "2026-11-22T02:00:00Z"),
        ("2021-01-15T00:00:00Z", "2026-11-22T02:00:00Z"),
    ] {
        let ticks = time_ticks(at(from), at(to));
        assert!((2..=9).contains(&ticks.len()), "{from}..{to}: {ticks:?}");
        assert!(ticks.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ticks.iter().all(|(t, _)| at(from) <= *t && *t <= at(to)));
    }
    let monthly = time_ticks(at("2025-11-22T02:00:00Z"), at("2026-11-22T02:00:00Z"));
    assert_eq!(monthly[0].1, "2026-01");
}

#[test]
fn numbers_are_formatted_one_way() {
    assert_eq!(int(0), "0");
    assert_eq!(int(999), "999");
    assert_eq!(int(1000), "1,000");
    assert_eq!(int(1_234_567), "1,234,567");
    assert_eq!(signed(3), "+3");
    assert_eq!(signed(-1200), "−1,200");
    assert_eq!(signed(0), "±0");
    assert_eq!(clip("abcdef", 4), "abc…");
    assert_eq!(clip("abc", 4), "abc");
}

#[test]
fn a_small_dashboard() {
    let html = render(&small());
    let body = &html[html.find("<body>").unwrap()..];
    insta::assert_snapshot!(body);
}

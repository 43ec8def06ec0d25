//! The dashboard in a real browser (issue 15, part 5): the fixture's page rendered by
//! headless Chromium (Debian's `chromium`) gives a real screenshot, a DOM with the charts'
//! SVG elements and data points, and no console message at all — no Content-Security-Policy
//! violation, no script error. Skipped with a message only when Chromium is not installed;
//! `.ci/run` installs it and sets `TOKENWARDEN_REQUIRE_CHROMIUM=1`, which turns the skip
//! into a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokenwarden::dashboard::{render, DashboardData};

use crate::support::root;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser, or `None` (with a visible message) when it is not installed and not required.
fn chromium() -> Option<&'static str> {
    if Path::new(CHROMIUM).exists() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var_os("TOKENWARDEN_REQUIRE_CHROMIUM").is_none_or(|v| v != "1"),
        "TOKENWARDEN_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing (apt-get install chromium)"
    );
    eprintln!("SKIPPED: {CHROMIUM} is not installed; the dashboard was not checked in a browser");
    None
}

pub fn fixture() -> DashboardData {
    let path = root().join("tests/fixtures/dashboard/data.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One headless run on `page` with `args`, killed if it takes more than a minute. Logging
/// goes to stderr, where Chromium writes every console message (`INFO:CONSOLE`), CSP
/// violations included.
fn headless(browser: &str, profile: &Path, page: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(browser);
    // The browser is a tool here, not under test: it runs on the real clock even when the
    // suite runs under libfaketime (scripts/faketime-tests.sh).
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FAKETIME") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("LD_PRELOAD");
    let child = cmd
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > Duration::from_secs(60) {
            // Only the browser this test started, by its id.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

/// Console messages, CSP violations and script errors in a run's log.
fn page_problems(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
                || l.contains("Uncaught")
        })
        .map(str::to_string)
        .collect()
}

struct Page {
    dir: tempfile::TempDir,
    html: PathBuf,
}

fn page(html: &str) -> Page {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard.html");
    std::fs::write(&path, html).unwrap();
    Page { dir, html: path }
}

#[test]
fn the_dashboard_renders_in_chromium_with_its_charts_and_no_console_errors() {
    let Some(browser) = chromium() else { return };
    let data = fixture();
    assert_eq!(data.scans.len(), 30);
    let p = page(&render(&data));

    let shot = p.dir.path().join("shot.png");
    let out = headless(
        browser,
        &p.dir.path().join("profile-shot"),
        &p.html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // IHDR: the width and height asked for.
    assert_eq!(&png[16..24], &[0, 0, 5, 0, 0, 0, 7, 208]);
    assert!(
        png.len() > 50_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    assert_eq!(page_problems(&out.stderr), Vec::<String>::new());

    let out = headless(
        browser,
        &p.dir.path().join("profile-dom"),
        &p.html,
        &["--dump-dom"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(page_problems(&out.stderr), Vec::<String>::new());
    let dom = String::from_utf8(out.stdout).unwrap();
    // The charts, as the browser parsed them, with one data point per scan.
    assert!(
        dom.contains("<svg id=\"trend-chart\" class=\"chart trend\""),
        "{dom}"
    );
    assert!(dom.contains("<svg id=\"expiry-chart\" class=\"chart expiry\""));
    assert_eq!(dom.matches("<rect class=\"hit\" data-scan=").count(), 30);
    assert!(dom.contains("data-scan=\"129\" data-total=\"37\""));
    for sev in ["critical", "high", "medium", "low"] {
        assert!(
            dom.contains(&format!("<path class=\"area sev-{sev}\"")),
            "{sev}"
        );
    }
    assert_eq!(
        dom.matches("<g class=\"row\" data-token=").count(),
        data.expiring.len()
    );
    assert!(dom.contains("<table id=\"heat-map\" class=\"heat\">"));
    assert!(dom.contains("<table id=\"overdue-table\">"));
    assert!(dom.contains("<ol id=\"drift-list\" class=\"drift\">"));
    assert!(dom.contains("id=\"not-evaluated-warning\""));
    // The fixture's hostile names stay text in the parsed page.
    assert!(!dom.to_ascii_lowercase().contains("<script"));
    assert!(!dom.contains("<b>legacy"));
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// The check above would see a violation: the same page with an inline style, an image
/// and a script added (which the policy refuses) is reported.
#[test]
fn a_policy_violation_is_seen_in_chromium_s_log() {
    let Some(browser) = chromium() else { return };
    let html = render(&fixture()).replacen(
        "<main>",
        "<main><div style=\"color:red\">x</div><img src=\"data:,x\"><script>console.log(1)</script>",
        1,
    );
    let p = page(&html);
    let out = headless(
        browser,
        &p.dir.path().join("profile"),
        &p.html,
        &["--dump-dom"],
    );
    let problems = page_problems(&out.stderr);
    for what in ["inline style", "image", "inline script"] {
        assert!(
            problems.iter().any(|l| l.contains(what)),
            "{what} not reported: {problems:#?}"
        );
    }
}

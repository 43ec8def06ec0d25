//! The dashboard's HTML building blocks: escaping of outside text, number and date
//! formats, the one style sheet and the Content-Security-Policy that admits exactly it.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::text;

/// Outside text (a token name, an account label, a rule message) for HTML text or a quoted
/// attribute: control and bidirectional characters spelled out as `text::terminal` does
/// (so a name cannot reorder or hide what is around it), then `& < > " '` as entities.
pub fn esc(s: &str) -> String {
    let safe = text::terminal(s);
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut (for chart labels; the full text
/// goes into the element's tooltip).
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A count with thousands separators: `1,234`.
pub fn int(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed difference: `+3`, `−2` (a true minus sign), `±0`.
pub fn signed(d: i64) -> String {
    let abs = usize::try_from(d.unsigned_abs()).unwrap_or(usize::MAX);
    match d {
        0 => "±0".to_string(),
        d if d > 0 => format!("+{}", int(abs)),
        _ => format!("−{}", int(abs)),
    }
}

/// Every time on the dashboard is UTC, to the minute.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A `<time>` element: the machine-readable instant and the displayed text.
pub fn time_el(t: DateTime<Utc>, shown: &str) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        esc(shown)
    )
}

/// A plural noun: `1 token`, `3 tokens`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", int(n), if n == 1 { one } else { many })
}

/// The policy for the page: nothing may load or run; the one `<style>` element is admitted
/// by its hash, so not even an injected `style` attribute applies.
pub fn csp() -> String {
    let digest = Sha256::digest(CSS.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Opens the document: the policy, the title and the style sheet.
pub fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n",
        csp(),
        esc(title)
    );
}

/// The one style sheet. Severity colours are chosen per scheme so that each stays
/// readable against its background (and the badge text against the badge).
pub const CSS: &str = r#"
:root{--bg:#f4f5f7;--panel:#fff;--fg:#1a1d21;--muted:#5a6370;--line:#dde1e6;--grid:#e9ecef;
--hover:rgba(26,29,33,.07);--warn-bg:#fff4e5;--warn-fg:#7a3e00;--warn-line:#f0a040;
--crit:#c92a2a;--high:#e8590c;--med:#f0b400;--low:#3b6fd8;--on-crit:#fff;--on-high:#fff;--on-med:#1a1d21;--on-low:#fff;
--good:#2b8a3e;--bad:#c92a2a;--add:#2b8a3e;--del:#c92a2a;--bar:#3b6fd8;--exp30:#c92a2a;--exp60:#e8590c;--exp90:#3b6fd8;
--band30:rgba(201,42,42,.08);--band60:rgba(232,89,12,.06)}
@media (prefers-color-scheme:dark){:root{--bg:#101317;--panel:#181c22;--fg:#e6e9ed;--muted:#9aa4b1;--line:#2c323b;--grid:#262c34;
--hover:rgba(230,233,237,.08);--warn-bg:#3a2606;--warn-fg:#ffd8a8;--warn-line:#b86e00;
--crit:#ff6b6b;--high:#ff922b;--med:#ffd43b;--low:#74a3ff;--on-crit:#1a0000;--on-high:#1f0d00;--on-med:#1f1900;--on-low:#00102e;
--good:#69db7c;--bad:#ff8787;--add:#69db7c;--del:#ff8787;--bar:#74a3ff;--exp30:#ff6b6b;--exp60:#ff922b;--exp90:#74a3ff;
--band30:rgba(255,107,107,.10);--band60:rgba(255,146,43,.07)}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 20px 40px}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:8px 24px;margin-bottom:16px}
h1{font-size:22px;margin:0;font-weight:650;letter-spacing:-.01em}
h2{font-size:16px;margin:0 0 4px;font-weight:650}
.sub,.note{color:var(--muted)}
.note{font-size:12.5px;margin:0 0 12px}
section.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:16px 0}
.warn{background:var(--warn-bg);color:var(--warn-fg);border:1px solid var(--warn-line);border-left-width:6px;border-radius:10px;padding:12px 16px;margin:16px 0}
.warn strong{font-size:15px}
.warn ul{margin:6px 0 0;padding-left:20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0}
.tile{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:10px 14px;border-top:4px solid var(--line)}
.tile .v{font-size:28px;font-weight:700;line-height:1.15;font-variant-numeric:tabular-nums}
.tile .k{color:var(--muted);font-size:12.5px;text-transform:uppercase;letter-spacing:.04em}
.tile .d{font-size:12.5px;color:var(--muted)}
.tile .d.up{color:var(--bad)}.tile .d.down{color:var(--good)}
.tile.sev-critical{border-top-color:var(--crit)}.tile.sev-high{border-top-color:var(--high)}
.tile.sev-medium{border-top-color:var(--med)}.tile.sev-low{border-top-color:var(--low)}
.tile.alert{border-top-color:var(--bad)}.tile.alert .v{color:var(--bad)}
.tile.warning{background:var(--warn-bg);color:var(--warn-fg);border-color:var(--warn-line);border-top-color:var(--warn-line)}
.tile.warning .k,.tile.warning .d{color:var(--warn-fg)}
svg.chart{width:100%;height:auto;display:block;font-size:12px}
svg.chart text{fill:var(--muted)}
svg.chart text.name{fill:var(--fg)}
svg.chart text.label{paint-order:stroke;stroke:var(--panel);stroke-width:4px;stroke-linejoin:round}
.axis{stroke:var(--muted);stroke-width:1}
.gridline{stroke:var(--grid);stroke-width:1}
.area.sev-critical{fill:var(--crit)}.area.sev-high{fill:var(--high)}.area.sev-medium{fill:var(--med)}.area.sev-low{fill:var(--low)}
.area{fill-opacity:.85;stroke:var(--panel);stroke-width:.75}
.overdue-line{fill:none;stroke:var(--fg);stroke-width:1.75;stroke-dasharray:5 4}
.hit{fill:transparent}.hit:hover{fill:var(--hover)}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12.5px;margin:4px 0 8px;padding:0;list-style:none}
.legend li{display:flex;align-items:center;gap:6px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px}
.sw.sev-critical{background:var(--crit)}.sw.sev-high{background:var(--high)}.sw.sev-medium{background:var(--med)}.sw.sev-low{background:var(--low)}
.sw.dash{height:0;border-top:2px dashed var(--fg);border-radius:0;width:18px}
.sw.exp30{background:var(--exp30)}.sw.exp60{background:var(--exp60)}.sw.exp90{background:var(--exp90)}
.band30{fill:var(--band30)}.band60{fill:var(--band60)}
.lifebar.exp30{fill:var(--exp30)}.lifebar.exp60{fill:var(--exp60)}.lifebar.exp90{fill:var(--exp90)}
.row:hover .rowbg{fill:var(--hover)}.rowbg{fill:transparent}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
tbody th,tfoot td{text-transform:none;letter-spacing:0;color:var(--fg);font-size:13px;font-weight:500}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nw{white-space:nowrap}
td .id{display:block;font-size:11px}
tbody tr:hover td{background:var(--hover)}
.id,code,.changes{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.id{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:650;text-transform:uppercase;letter-spacing:.03em}
.badge.sev-critical{background:var(--crit);color:var(--on-crit)}.badge.sev-high{background:var(--high);color:var(--on-high)}
.badge.sev-medium{background:var(--med);color:var(--on-med)}.badge.sev-low{background:var(--low);color:var(--on-low)}
.late{color:var(--bad);font-weight:650}
.scroll{overflow-x:auto}
table.heat td.cell{text-align:center;font-variant-numeric:tabular-nums;min-width:56px;font-weight:600;border:2px solid var(--panel);border-radius:4px}
table.heat td.zero{color:var(--grid);font-weight:400}
table.heat .c-critical{--c:var(--crit)}table.heat .c-high{--c:var(--high)}table.heat .c-medium{--c:var(--med)}table.heat .c-low{--c:var(--low)}
table.heat .l1{background:color-mix(in srgb,var(--c) 18%,transparent)}
table.heat .l2{background:color-mix(in srgb,var(--c) 34%,transparent)}
table.heat .l3{background:color-mix(in srgb,var(--c) 52%,transparent)}
table.heat .l4{background:color-mix(in srgb,var(--c) 72%,transparent)}
table.heat .l5{background:var(--c);color:var(--panel)}
table.heat th.col{text-align:center;text-transform:none;letter-spacing:0;max-width:140px;overflow-wrap:anywhere}
table.heat tfoot td{font-weight:650;border-bottom:none}
ol.drift{list-style:none;margin:0;padding:0}
ol.drift>li{padding:10px 0;border-bottom:1px solid var(--line)}
ol.drift>li:last-child{border-bottom:none}
.changes{margin:6px 0 0;padding:0;list-style:none}
.changes li{padding:1px 8px;border-left:3px solid var(--line);white-space:pre-wrap;overflow-wrap:anywhere}
.changes li.add{border-left-color:var(--add);color:var(--add)}
.changes li.del{border-left-color:var(--del);color:var(--del)}
.more{color:var(--muted);font-style:italic;margin:8px 0 0}
.empty{color:var(--muted);font-style:italic;margin:8px 0}
footer{color:var(--muted);font-size:12px;margin-top:24px;text-align:center}
@media print{body{background:#fff}section.panel,.tile{break-inside:avoid}}
"#;

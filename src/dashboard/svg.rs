//! The dashboard's two charts, drawn as inline SVG: the trend of open findings by severity
//! over the recorded scans (stacked areas, the overdue count as a dashed line, one hover
//! region with a `<title>` tooltip per scan) and the expiry timeline (one row per token
//! expiring in the next 90 days). Geometry is rounded to 0.1 so output is byte-stable.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

use super::html::{clip, count, date, esc, int, time};
use super::{ExpiringToken, ScanPoint, SEVERITIES};

/// A coordinate as written: one decimal.
fn c(x: f64) -> String {
    let v = (x * 10.0).round() / 10.0;
    if v == 0.0 {
        "0".to_string()
    } else {
        format!("{v:.1}")
    }
}

/// A "nice" step (1, 2 or 5 × 10ⁿ, at least 1) so that `max` spans about four steps.
pub fn nice_step(max: usize) -> usize {
    let raw = max.div_ceil(4).max(1);
    let mut magnitude = 1usize;
    while magnitude.saturating_mul(10) <= raw {
        magnitude = magnitude.saturating_mul(10);
    }
    for m in [1, 2, 5, 10] {
        let step = magnitude.saturating_mul(m);
        if step >= raw {
            return step;
        }
    }
    magnitude.saturating_mul(10)
}

/// Ticks on a time axis from `t0` to `t1`: round UTC hours, days or months, at most about
/// eight, with the label format that fits the step.
pub fn time_ticks(t0: DateTime<Utc>, t1: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let span = (t1 - t0).num_seconds().max(1);
    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;
    let mut ticks = Vec::new();
    for hours in [1, 2, 3, 6, 12] {
        if span / (hours * HOUR) <= 8 {
            let step = hours * HOUR;
            let first = t0.timestamp().div_euclid(step) * step + step;
            let mut s = if t0.timestamp() % step == 0 {
                t0.timestamp()
            } else {
                first
            };
            while s <= t1.timestamp() {
                if let Some(t) = Utc.timestamp_opt(s, 0).single() {
                    ticks.push((t, t.format("%m-%d %H:%M").to_string()));
                }
                s += step;
            }
            return ticks;
        }
    }
    for days in [1, 2, 7, 14] {
        if span / (days * DAY) <= 8 {
            let step = days * DAY;
            let mut s = t0.timestamp().div_euclid(DAY) * DAY;
            if s < t0.timestamp() {
                s += DAY;
            }
            // Weekly ticks fall on Mondays (1970-01-05 was one).
            if days >= 7 {
                let monday = 4 * DAY;
                let off = (s - monday).rem_euclid(step);
                if off != 0 {
                    s += step - off;
                }
            }
            while s <= t1.timestamp() {
                if let Some(t) = Utc.timestamp_opt(s, 0).single() {
                    ticks.push((t, date(t)));
                }
                s += step;
            }
            return ticks;
        }
    }
    let months_span = span / (30 * DAY);
    let step = [1u32, 2, 3, 6, 12]
        .into_iter()
        .find(|m| months_span / i64::from(*m) <= 8)
        .unwrap_or(24);
    let (mut y, mut m) = (t0.year(), t0.month0());
    let at_start = t0.day() == 1 && t0.num_seconds_from_midnight() == 0;
    if !at_start {
        m += 1;
    }
    // Align to a multiple of the step within the year (quarters start in Jan, Apr, …).
    while m % step != 0 {
        m += 1;
    }
    loop {
        y += i32::try_from(m / 12).unwrap_or(0);
        m %= 12;
        let Some(t) = Utc.with_ymd_and_hms(y, m + 1, 1, 0, 0, 0).single() else {
            break;
        };
        if t > t1 {
            break;
        }
        ticks.push((t, t.format("%Y-%m").to_string()));
        m += step;
    }
    ticks
}

const W: f64 = 960.0;

/// The stacked-area trend of open findings by severity, with axes, a dashed overdue line
/// and one tooltip region per scan. `scans` is oldest first and not empty.
pub fn trend(out: &mut String, scans: &[ScanPoint]) {
    let (left, right, top, bottom) = (52.0, 16.0, 14.0, 34.0);
    let h = 300.0;
    let (pw, ph) = (W - left - right, h - top - bottom);
    let total = |s: &ScanPoint| s.open.iter().sum::<usize>();
    let max = scans
        .iter()
        .map(|s| total(s).max(s.overdue))
        .max()
        .unwrap_or(0);
    let step = nice_step(max);
    let ymax = max.div_ceil(step).max(1) * step;
    let y = |v: usize| top + ph - (v as f64 / ymax as f64) * ph;

    let (first, last) = match (scans.first(), scans.last()) {
        (Some(f), Some(l)) => (f.at, l.at),
        _ => return,
    };
    let span = (last - first).num_seconds();
    // Scans placed by time; when they all share one instant (or there is only one), by
    // position, so nothing divides by zero.
    let by_time = span > 0;
    let n = scans.len();
    let x = |i: usize, s: &ScanPoint| -> f64 {
        if by_time {
            left + ((s.at - first).num_seconds() as f64 / span as f64) * pw
        } else if n == 1 {
            left + pw / 2.0
        } else {
            left + (i as f64 / (n - 1) as f64) * pw
        }
    };
    let xs: Vec<f64> = scans.iter().enumerate().map(|(i, s)| x(i, s)).collect();

    let _ = writeln!(
        out,
        "<svg id=\"trend-chart\" class=\"chart trend\" viewBox=\"0 0 {W} {h}\" role=\"img\" \
         aria-labelledby=\"trend-title\">\
         <title id=\"trend-title\">Open findings by severity over {}</title>",
        count(n, "scan", "scans")
    );
    // Horizontal gridlines and y labels.
    out.push_str("<g class=\"y-axis\">");
    let mut v = 0;
    while v <= ymax {
        let yy = c(y(v));
        let _ = write!(
            out,
            "<line class=\"gridline\" x1=\"{}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\"/>\
             <text x=\"{}\" y=\"{yy}\" dy=\"4\" text-anchor=\"end\">{}</text>",
            c(left),
            c(left + pw),
            c(left - 8.0),
            int(v)
        );
        v += step;
    }
    out.push_str("</g>\n");

    // Stacked layers, critical at the bottom so the worst stays on a stable baseline.
    let mut base = vec![0usize; n];
    out.push_str("<g class=\"layers\">");
    for (k, sev) in SEVERITIES.iter().enumerate() {
        let tops: Vec<usize> = scans
            .iter()
            .zip(&base)
            .map(|(s, b)| b + s.open[k])
            .collect();
        let d = if n == 1 {
            // One scan: a bar, since an area needs two points.
            let (x0, x1) = (xs[0] - 24.0, xs[0] + 24.0);
            format!(
                "M{} {}H{}V{}H{}Z",
                c(x0),
                c(y(base[0])),
                c(x1),
                c(y(tops[0])),
                c(x0)
            )
        } else {
            let mut d = String::new();
            for (i, t) in tops.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{} {}",
                    if i == 0 { "M" } else { "L" },
                    c(xs[i]),
                    c(y(*t))
                );
            }
            for i in (0..n).rev() {
                let _ = write!(d, "L{} {}", c(xs[i]), c(y(base[i])));
            }
            d.push('Z');
            d
        };
        let latest = scans.last().map_or(0, |s| s.open[k]);
        let _ = write!(
            out,
            "<path class=\"area sev-{sev}\" d=\"{d}\"><title>{sev}: {} open in the latest scan</title></path>",
            int(latest)
        );
        base = tops;
    }
    out.push_str("</g>\n");

    // The overdue count as a dashed line.
    if n > 1 {
        let mut d = String::new();
        for (i, s) in scans.iter().enumerate() {
            let _ = write!(
                d,
                "{}{} {}",
                if i == 0 { "M" } else { "L" },
                c(xs[i]),
                c(y(s.overdue))
            );
        }
        let _ = writeln!(out, "<path class=\"overdue-line\" d=\"{d}\"/>");
    }

    // Axes and x labels.
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{l}\" x2=\"{l}\" y1=\"{t}\" y2=\"{b}\"/>\
         <line class=\"axis\" x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/>\n<g class=\"x-axis\">",
        l = c(left),
        r = c(left + pw),
        t = c(top),
        b = c(top + ph)
    );
    let by = top + ph;
    if by_time {
        for (t, label) in time_ticks(first, last) {
            let xx = left + ((t - first).num_seconds() as f64 / span as f64) * pw;
            let _ = write!(
                out,
                "<line class=\"axis\" x1=\"{xx}\" x2=\"{xx}\" y1=\"{}\" y2=\"{}\"/>\
                 <text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(by),
                c(by + 5.0),
                c(by + 20.0),
                esc(&label),
                xx = c(xx)
            );
        }
    } else {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            c(xs[0]),
            c(by + 20.0),
            esc(&date(first))
        );
    }
    out.push_str("</g>\n");

    // One hover region per scan, from halfway to its neighbours, with the scan's numbers.
    out.push_str("<g class=\"points\">");
    for (i, s) in scans.iter().enumerate() {
        let x0 = if i == 0 {
            left
        } else {
            (xs[i - 1] + xs[i]) / 2.0
        };
        let x1 = if i + 1 == n {
            left + pw
        } else {
            (xs[i] + xs[i + 1]) / 2.0
        };
        let _ = write!(
            out,
            "<rect class=\"hit\" data-scan=\"{}\" data-total=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\">\
             <title>Scan #{} · {}\n{} critical · {} high · {} medium · {} low ({} open)\n{} overdue · {} new · {} resolved · {} drifted · {}</title></rect>",
            s.id,
            total(s),
            c(x0),
            c(top),
            c((x1 - x0).max(0.0)),
            c(ph),
            s.id,
            time(s.at),
            int(s.open[0]),
            int(s.open[1]),
            int(s.open[2]),
            int(s.open[3]),
            int(total(s)),
            int(s.overdue),
            int(s.new),
            int(s.resolved),
            int(s.drifted),
            count(s.tokens, "token", "tokens"),
        );
    }
    out.push_str("</g>\n</svg>\n");
}

/// How many rows the expiry timeline draws before "and N more".
pub const EXPIRY_ROWS: usize = 30;

/// Days left, and the band a token falls in: 30, 60 or 90.
pub fn expiry_band(now: DateTime<Utc>, at: DateTime<Utc>) -> (i64, u8) {
    let secs = (at - now).num_seconds();
    let days = secs.div_euclid(86_400);
    let band = if secs <= 30 * 86_400 {
        30
    } else if secs <= 60 * 86_400 {
        60
    } else {
        90
    };
    (days, band)
}

/// The expiry timeline: today at the left, 90 days ahead at the right, one row per token
/// (soonest first) with a bar for the life it has left. `tokens` is sorted and not empty.
pub fn expiry(out: &mut String, now: DateTime<Utc>, tokens: &[ExpiringToken]) {
    let (name_w, plot_l, plot_r) = (250.0, 262.0, 846.0);
    let (top, row_h) = (40.0, 22.0);
    let rows = tokens.len().min(EXPIRY_ROWS);
    let h = top + rows as f64 * row_h + 8.0;
    let pw = plot_r - plot_l;
    let horizon = 90.0 * 86_400.0;
    let x = |t: DateTime<Utc>| {
        let f = ((t - now).num_seconds() as f64 / horizon).clamp(0.0, 1.0);
        plot_l + f * pw
    };
    let _ = writeln!(
        out,
        "<svg id=\"expiry-chart\" class=\"chart expiry\" viewBox=\"0 0 {W} {}\" role=\"img\" \
         aria-labelledby=\"expiry-title\">\
         <title id=\"expiry-title\">{} expiring in the next 90 days</title>",
        c(h),
        count(tokens.len(), "token", "tokens")
    );
    let bottom = c(h - 4.0);
    let _ = write!(
        out,
        "<rect class=\"band30\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\
         <rect class=\"band60\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n<g class=\"x-axis\">",
        c(plot_l),
        c(top - 8.0),
        c(pw / 3.0),
        c(h - top + 4.0),
        c(plot_l + pw / 3.0),
        c(top - 8.0),
        c(pw / 3.0),
        c(h - top + 4.0)
    );
    for d in (0..=90).step_by(15) {
        let t = now + Duration::days(d);
        let xx = c(x(t));
        let major = d % 30 == 0;
        let _ = write!(
            out,
            "<line class=\"{}\" x1=\"{xx}\" x2=\"{xx}\" y1=\"{}\" y2=\"{bottom}\"/>",
            if major { "axis" } else { "gridline" },
            c(top - 8.0)
        );
        if major {
            let label = if d == 0 {
                "today".to_string()
            } else {
                format!("+{d} days")
            };
            let _ = write!(
                out,
                "<text x=\"{xx}\" y=\"13\" text-anchor=\"middle\">{}</text>\
                 <text x=\"{xx}\" y=\"26\" text-anchor=\"middle\">{}</text>",
                esc(&label),
                esc(&date(t))
            );
        }
    }
    out.push_str("</g>\n<g class=\"rows\">");
    for (i, t) in tokens.iter().take(rows).enumerate() {
        let y0 = top + i as f64 * row_h;
        let mid = y0 + row_h / 2.0;
        let (days, band) = expiry_band(now, t.expires_on);
        let left_text = if t.expires_on <= now {
            "expired".to_string()
        } else {
            format!("{} d", days)
        };
        let x1 = x(t.expires_on);
        let _ = write!(
            out,
            "<g class=\"row\" data-token=\"{}\" data-days=\"{days}\"><title>{} ({}) · {}\nexpires {} · {}</title>\
             <rect class=\"rowbg\" x=\"0\" y=\"{}\" width=\"{W}\" height=\"{}\"/>\
             <text class=\"name\" x=\"{name_w}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"lifebar exp{band}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\" rx=\"3\"/>\
             <circle class=\"lifebar exp{band}\" cx=\"{}\" cy=\"{}\" r=\"5\"/>\
             <text class=\"label\" x=\"{}\" y=\"{}\">{} · {}</text></g>\n",
            esc(&t.token_id),
            esc(&t.token_name),
            esc(&t.token_id),
            esc(&t.owner),
            esc(&time(t.expires_on)),
            esc(&left_text),
            c(y0),
            c(row_h),
            c(mid + 4.0),
            esc(&clip(&format!("{} · {}", t.token_name, t.owner), 38)),
            c(plot_l),
            c(mid - 5.0),
            c((x1 - plot_l).max(0.0)),
            c(x1),
            c(mid),
            c(x1 + 9.0),
            c(mid + 4.0),
            esc(&date(t.expires_on)),
            esc(&left_text),
        );
    }
    out.push_str("</g>\n</svg>\n");
}

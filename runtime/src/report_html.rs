//! `report.html`: the sim's report for a reseller to read, rendered from `report.json` alone.
//!
//! Self-contained (inline SVG and CSS, no script, no fetches): cash and inventory value over
//! time, the funnel, the margin distribution of sold items and their days to sell, and the
//! figures behind them. Pure: the same report gives the same page.

use std::fmt::Write as _;

use crate::simulate::report::{Funnel, NegotiationFigures, PnlFigures};
use crate::simulate::Report;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 30.0;

/// The page for `report`.
pub fn render(report: &Report) -> String {
    let mut page = String::new();
    let title = format!(
        "bazaar sim — {} scenario, seed {}, {} days",
        report.scenario, report.seed, report.days
    );
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em auto;max-width:720px;color:#222}}\
         h1{{font-size:20px}}h2{{font-size:16px;margin-top:2em}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 12px 2px 0}}th{{text-align:right}}th:first-child{{text-align:left}}td.n{{text-align:right}}svg{{background:#fafafa}}\
         .axis{{font-size:11px;fill:#666}}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    page.push_str(&summary(report));
    let series = |cents: fn(&crate::simulate::report::DayPoint) -> i64| -> Vec<(f64, f64)> {
        report
            .daily
            .iter()
            .map(|d| (d.day as f64, cents(d) as f64 / 100.0))
            .collect()
    };
    page.push_str("<h2>Cash and inventory value</h2>");
    page.push_str(&line_chart(&[
        (
            "cash (sales less purchases, fees, postage)",
            "#1f77b4",
            series(|d| d.cash),
        ),
        ("inventory at cost", "#ff7f0e", series(|d| d.inventory)),
    ]));
    page.push_str("<h2>Funnel</h2>");
    let f = &report.funnel;
    let steps: Vec<(String, f64)> = [
        ("found", f.found),
        ("analyzed", f.analyzed),
        ("pursued", f.pursued),
        ("agreed", f.agreed),
        ("bought", f.bought),
        ("listed", f.listed),
        ("sold", f.sold),
    ]
    .iter()
    .map(|(step, count)| (step.to_string(), *count as f64))
    .collect();
    page.push_str(&bar_chart(&steps, true));
    let selling = &report.selling;
    page.push_str("<h2>Margin of sold items</h2>");
    let margins: Vec<f64> = selling
        .margins_bp
        .iter()
        .map(|bp| *bp as f64 / 100.0)
        .collect();
    page.push_str(&histogram(
        &margins,
        &[-50.0, -25.0, 0.0, 10.0, 20.0, 30.0, 50.0],
        "%",
    ));
    page.push_str("<h2>Days to sell</h2>");
    let days: Vec<f64> = selling.days_to_sell.iter().map(|d| *d as f64).collect();
    page.push_str(&histogram(&days, &[0.0, 3.0, 7.0, 14.0, 21.0, 30.0], " d"));
    if report.baselines.is_some() {
        page.push_str("<h2>Against the baselines, same world and seed</h2>");
        page.push_str(&comparison(report));
    }
    page.push_str("</body></html>\n");
    page
}

/// Ours and each baseline: profit, ROI, deals bought and sold, deal rate.
fn comparison(report: &Report) -> String {
    let mut html = String::from(
        "<table><tr><th>strategy</th><th>profit</th><th>ROI</th><th>stock at cost</th><th>bought</th><th>sold</th><th>deal rate</th></tr>",
    );
    let ours = (
        report.strategy.as_str(),
        &report.pnl,
        &report.funnel,
        &report.negotiation,
    );
    let baselines = report
        .baselines
        .iter()
        .flatten()
        .map(|(name, b)| (name.as_str(), &b.pnl, &b.funnel, &b.negotiation));
    let rows: Vec<(&str, &PnlFigures, &Funnel, &NegotiationFigures)> =
        std::iter::once(ours).chain(baselines).collect();
    for (name, pnl, funnel, negotiation) in rows {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(name),
            escape(&dollars(pnl.profit)),
            escape(&percent(pnl.roi)),
            escape(&dollars(pnl.stock_at_cost)),
            funnel.bought,
            funnel.sold,
            escape(&percent(negotiation.deal_rate)),
        );
    }
    html.push_str("</table>");
    html
}

fn summary(report: &Report) -> String {
    let (pnl, n, p) = (&report.pnl, &report.negotiation, &report.policy);
    let rows = [
        ("profit", dollars(pnl.profit)),
        ("revenue", dollars(pnl.revenue)),
        ("cost of goods sold", dollars(pnl.cost_of_goods)),
        ("fees", dollars(pnl.fees)),
        ("postage", dollars(pnl.shipping)),
        ("ROI", percent(pnl.roi)),
        ("stock held, at cost", dollars(pnl.stock_at_cost)),
        ("cash (every purchase spent)", dollars(pnl.cash)),
        ("deal rate", percent(n.deal_rate)),
        ("feasible deal rate", percent(n.feasible_deal_rate)),
        (
            "… of sellers who answered",
            percent(n.feasible_deal_rate_answered),
        ),
        (
            "feasible deals lost, by reason",
            crate::simulate::report::lost_summary(&n.feasible_lost),
        ),
        ("surplus captured", percent(n.surplus_captured)),
        (
            "valuation median error",
            report.valuation.mape.map_or("n/a".to_string(), percent),
        ),
        ("oversells", report.selling.oversells.to_string()),
        (
            "actions executed / approved / blocked",
            format!("{} / {} / {}", p.executed, p.approved, p.blocked),
        ),
    ];
    let mut html = String::from("<table>");
    for (name, value) in rows {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(name),
            escape(&value)
        );
    }
    html.push_str("</table>");
    html
}

/// One line of a chart: its name, colour and (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// Lines over a shared x axis (days), y in dollars.
fn line_chart(series: &[Series<'_>]) -> String {
    let points = series.iter().flat_map(|(_, _, p)| p.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, 0.0f64, 1.0f64);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - BOTTOM - 10.0;
    let sx = |x: f64| LEFT + x / x_max * plot_w;
    let sy = |y: f64| 10.0 + (y_max - y) / (y_max - y_min).max(1e-9) * plot_h;
    let mut svg = svg_open(HEIGHT + 20.0 * series.len() as f64);
    axis_lines(&mut svg, sy(0.0));
    for (value, label) in [(y_max, y_max), (y_min, y_min)] {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            sy(value) + 4.0,
            dollars((label * 100.0).round() as i64)
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">day {:.0}</text>",
        WIDTH - 10.0,
        HEIGHT - 8.0,
        x_max
    );
    for (i, (name, color, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
             <rect x=\"{LEFT}\" y=\"{:.0}\" width=\"12\" height=\"4\" fill=\"{color}\"/>\
             <text class=\"axis\" x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            path.join(" "),
            HEIGHT + 6.0 + 20.0 * i as f64,
            LEFT + 18.0,
            HEIGHT + 11.0 + 20.0 * i as f64,
            escape(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars; `log` scales lengths by log10 (the funnel spans orders of magnitude).
fn bar_chart(bars: &[(String, f64)], log: bool) -> String {
    let scale = |v: f64| if log { (v + 1.0).log10() } else { v };
    let max = bars.iter().map(|(_, v)| scale(*v)).fold(1e-9, f64::max);
    let row = 24.0;
    let mut svg = svg_open(row * bars.len() as f64 + 10.0);
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let w = scale(*value) / max * (WIDTH - LEFT - 60.0);
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LEFT}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{:.0}\" fill=\"#2ca02c\"/>\
             <text class=\"axis\" x=\"{:.0}\" y=\"{:.0}\">{value:.0}</text>",
            LEFT - 6.0,
            y + 14.0,
            escape(label),
            row - 6.0,
            LEFT + w + 6.0,
            y + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Counts of `values` in the bins between consecutive `edges` (plus under and over).
fn histogram(values: &[f64], edges: &[f64], unit: &str) -> String {
    if values.is_empty() {
        return "<p>none sold in this run</p>".to_string();
    }
    let mut bars = Vec::new();
    let first = edges.first().copied().unwrap_or(0.0);
    let last = edges.last().copied().unwrap_or(0.0);
    let count = |keep: &dyn Fn(f64) -> bool| values.iter().filter(|v| keep(**v)).count() as f64;
    let under = count(&|v| v < first);
    if under > 0.0 {
        bars.push((format!("< {first}{unit}"), under));
    }
    for pair in edges.windows(2) {
        let (low, high) = (pair[0], pair[1]);
        bars.push((
            format!("{low}–{high}{unit}"),
            count(&|v| v >= low && v < high),
        ));
    }
    let over = count(&|v| v >= last);
    if over > 0.0 {
        bars.push((format!("≥ {last}{unit}"), over));
    }
    bar_chart(&bars, false)
}

fn svg_open(height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\">"
    )
}

fn axis_lines(svg: &mut String, zero_y: f64) {
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"10\" x2=\"{LEFT}\" y2=\"{:.0}\" stroke=\"#999\"/>\
         <line x1=\"{LEFT}\" y1=\"{zero_y:.1}\" x2=\"{:.0}\" y2=\"{zero_y:.1}\" stroke=\"#999\"/>",
        HEIGHT - BOTTOM,
        WIDTH - 10.0
    );
}

/// Cents as dollars (`-$12.30`).
pub(crate) fn dollars(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_is_drawn_and_text_is_escaped() {
        use crate::simulate::report::{DayPoint, SellingFigures};
        let report = Report {
            scenario: "<default>".into(),
            seed: 7,
            days: 3,
            pnl: PnlFigures {
                profit: -1234,
                revenue: 10000,
                cost_of_goods: 9000,
                fees: 1234,
                shipping: 1000,
                roi: -0.11,
                ..PnlFigures::default()
            },
            funnel: Funnel {
                found: 1000,
                analyzed: 900,
                pursued: 30,
                agreed: 5,
                bought: 5,
                listed: 5,
                sold: 2,
                ..Funnel::default()
            },
            selling: SellingFigures {
                margins_bp: vec![1500, -300],
                days_to_sell: vec![2, 9],
                ..SellingFigures::default()
            },
            daily: vec![
                DayPoint {
                    day: 1,
                    cash: -9000,
                    inventory: 9000,
                },
                DayPoint {
                    day: 2,
                    cash: 1000,
                    inventory: 0,
                },
            ],
            ..Report::default()
        };
        let page = render(&report);
        assert!(page.contains("&lt;default&gt;"), "{page}");
        assert!(!page.contains("<default>"));
        assert_eq!(page.matches("<svg").count(), 4);
        assert_eq!(page.matches("<polyline").count(), 2);
        assert!(page.contains("-$12.34"));
        assert!(!page.contains("<script"));
        let empty = render(&Report::default());
        assert!(empty.contains("none sold in this run"));
    }
}

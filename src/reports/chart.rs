//! Charts as SVG drawn on the server: no script and no other host. They scale to the
//! width of their box (a `viewBox`, no fixed size) and take their colours from the page's
//! CSS variables through classes, so the dark theme applies. Every text is escaped.

use std::fmt::Write;

use super::{DayFigures, FunnelCard, WaitBucket};

/// Drawn 400 units wide: about the width a chart gets beside its table on a desktop, and
/// not so wide that its text shrinks past reading on a phone's 300-odd pixels.
const W: f64 = 400.0;
const H: f64 = 200.0;
/// Room for the axis labels.
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

/// Escape text for SVG/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn open(out: &mut String, title: &str, height: f64) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" role=\"img\" \
         preserveAspectRatio=\"xMinYMin meet\"><title>{}</title>",
        escape(title)
    );
}

/// A round top for the axis: 1, 2, 5 × 10ⁿ at or above `max`.
fn nice_max(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

fn y_axis(out: &mut String, top: i64, height: f64) {
    let plot = height - TOP - BOTTOM;
    for i in 0..=2 {
        let value = top * i / 2;
        let y = TOP + plot - plot * i as f64 / 2.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>",
            LEFT - 4.0,
            y + 4.0
        );
    }
}

/// Shown, engaged and converted per day, as three lines.
pub fn series(days: &[DayFigures]) -> String {
    let mut out = String::new();
    open(&mut out, "Shown, engaged and converted per day", H);
    let max = days
        .iter()
        .map(|d| d.shown.max(d.engaged).max(d.converted))
        .max()
        .unwrap_or(0);
    let top = nice_max(max);
    y_axis(&mut out, top, H);
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let n = days.len().max(1);
    let x = |i: usize| LEFT + 4.0 + plot_w * (i as f64 + 0.5) / n as f64;
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / top as f64;
    type Pick = fn(&DayFigures) -> i64;
    let lines: [(&str, Pick); 3] = [
        ("shown", |d| d.shown),
        ("engaged", |d| d.engaged),
        ("converted", |d| d.converted),
    ];
    for (class, pick) in lines {
        let points: Vec<String> = days
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(pick(d))))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"line {class}\" points=\"{}\"/>",
            points.join(" ")
        );
        if days.len() <= 31 {
            for (i, d) in days.iter().enumerate() {
                let _ = write!(
                    out,
                    "<circle class=\"dot {class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                    x(i),
                    y(pick(d))
                );
            }
        }
    }
    // First, middle and last day under the axis.
    let mut labelled: Vec<usize> = vec![0, days.len() / 2, days.len().saturating_sub(1)];
    labelled.dedup();
    for i in labelled.into_iter().filter(|i| *i < days.len()) {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(i),
            H - 6.0,
            escape(days[i].day.get(5..).unwrap_or(&days[i].day))
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per row: `(label, value)`.
fn bars(title: &str, rows: &[(String, i64)]) -> String {
    let row_h = 26.0;
    let height = TOP + row_h * rows.len().max(1) as f64 + 4.0;
    let mut out = String::new();
    open(&mut out, title, height);
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let label_w = 130.0;
    let bar_w = W - label_w - 48.0;
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let w = bar_w * *value as f64 / max as f64;
        // The whole label is in the table beside the chart.
        let short: String = match label.chars().count() {
            n if n > 14 => label.chars().take(13).chain(['…']).collect(),
            _ => label.clone(),
        };
        let _ = write!(
            out,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\"/>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
            label_w - 8.0,
            y + 16.0,
            escape(&short),
            y + 4.0,
            row_h - 8.0,
            label_w + w + 6.0,
            y + 16.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// How many conversations reached each card.
pub fn funnel(cards: &[FunnelCard]) -> String {
    let rows: Vec<(String, i64)> = cards.iter().map(|c| (c.card.clone(), c.reached)).collect();
    bars("Conversations that reached each card", &rows)
}

/// How long visitors waited until a rep took the chat.
pub fn waits(buckets: &[WaitBucket]) -> String {
    let rows: Vec<(String, i64)> = buckets.iter().map(|b| (b.label.clone(), b.count)).collect();
    bars("Chats by wait until a rep took them", &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_are_round() {
        let cards = vec![FunnelCard {
            card: "<script>x</script>".into(),
            card_type: String::new(),
            reached: 3,
            left_closed: 0,
            left_exit_word: 0,
            stopped_answering: 0,
        }];
        let svg = funnel(&cards);
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(120), 200);
    }

    #[test]
    fn one_point_per_day() {
        let days: Vec<DayFigures> = (0..7)
            .map(|i| DayFigures {
                day: format!("2026-11-0{}", i + 1),
                shown: i,
                engaged: 0,
                converted: 0,
            })
            .collect();
        let svg = series(&days);
        assert_eq!(svg.matches("<circle class=\"dot shown\"").count(), 7);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}

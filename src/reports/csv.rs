//! A report as one CSV table in long form: `section,item,measure,value`, one figure a
//! line, so every chart's numbers are in one file a spreadsheet can pivot. Value won is
//! one line per currency (the currency is the item).

use super::Report;

/// A text cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-` or `@` is defused with `'` so a spreadsheet does not read a formula.
fn text(cell: &str) -> String {
    let cell = match cell.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{cell}"),
        _ => cell.to_owned(),
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

struct Out(String);

impl Out {
    fn line(&mut self, section: &str, item: &str, measure: &str, value: impl ToString) {
        self.0.push_str(section);
        self.0.push(',');
        self.0.push_str(&text(item));
        self.0.push(',');
        self.0.push_str(measure);
        self.0.push(',');
        self.0.push_str(&value.to_string());
        self.0.push_str("\r\n");
    }

    fn maybe(&mut self, section: &str, item: &str, measure: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.line(section, item, measure, v);
        }
    }
}

/// The report as CSV (RFC 4180, CRLF line ends, a header line).
pub fn render(report: &Report) -> String {
    let mut out = Out(String::from("section,item,measure,value\r\n"));
    let t = &report.totals;
    for (measure, v) in [
        ("shown", t.shown),
        ("engaged", t.engaged),
        ("converted", t.converted),
        ("captures_queued", t.captures_queued),
        ("completed", t.completed),
        ("deals_won", t.deals_won),
        ("deals_lost", t.deals_lost),
        ("leads_converted", t.leads_converted),
        ("leads_archived", t.leads_archived),
        ("leads_deleted", t.leads_deleted),
    ] {
        out.line("totals", "", measure, v);
    }
    for m in &t.value_won {
        out.line("totals", &m.currency, "value_won_cents", m.cents);
    }
    out.line("totals", "", "engagement_rate", t.engagement_rate);
    out.line("totals", "", "conversion_rate", t.conversion_rate);
    for d in &report.series {
        out.line("series", &d.day, "shown", d.shown);
        out.line("series", &d.day, "engaged", d.engaged);
        out.line("series", &d.day, "converted", d.converted);
    }
    for c in &report.funnel {
        out.line("funnel", &c.card, "reached", c.reached);
        out.line("funnel", &c.card, "left_closed", c.left_closed);
        out.line("funnel", &c.card, "left_exit_word", c.left_exit_word);
        out.line("funnel", &c.card, "stopped_answering", c.stopped_answering);
    }
    for a in &report.answers {
        for o in &a.options {
            out.line(
                "answers",
                &format!("{}: {}", a.card, o.label),
                "count",
                o.count,
            );
        }
    }
    for s in &report.scores {
        out.line("scores", &s.score.to_string(), "count", s.count);
    }
    let l = &report.live;
    out.line("live_chat", "", "offered", l.offered);
    out.line("live_chat", "", "taken", l.taken);
    out.line("live_chat", "", "missed", l.missed);
    out.maybe("live_chat", "", "wait_median_ms", l.wait_median_ms);
    out.maybe("live_chat", "", "wait_p90_ms", l.wait_p90_ms);
    out.maybe(
        "live_chat",
        "",
        "first_response_median_ms",
        l.first_response_median_ms,
    );
    out.maybe(
        "live_chat",
        "",
        "first_response_p90_ms",
        l.first_response_p90_ms,
    );
    for b in &l.waits {
        out.line("wait_distribution", &b.label, "count", b.count);
    }
    for r in &l.reps {
        out.line("reps", &r.name, "taken", r.taken);
        out.maybe("reps", &r.name, "wait_median_ms", r.wait_median_ms);
        out.maybe(
            "reps",
            &r.name,
            "first_response_median_ms",
            r.first_response_median_ms,
        );
    }
    for p in &report.deal_paths {
        let path = p.cards.join(" → ");
        out.line("deal_paths", &path, "deals_won", p.deals_won);
        out.line("deal_paths", &path, "deals_lost", p.deals_lost);
        for m in &p.value_won {
            out.line(
                "deal_paths",
                &format!("{path} ({})", m.currency),
                "value_won_cents",
                m.cents,
            );
        }
    }
    out.0
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(text("-2,3"), "\"'-2,3\"");
    }
}

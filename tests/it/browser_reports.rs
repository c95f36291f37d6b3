//! The Reports section in a real browser, opened through the sandbox CRM's shell: an admin
//! picks a playbook, switches the range from today to 30 days and sees the figures, the
//! per-day chart and its table change, then downloads the CSV the link offers and finds the
//! same figures in it.

use concierge::db::analytics::kind;
use concierge::db::{self, playbooks};
use serde_json::Value;

use crate::browser::{in_browser, js, shown};
use crate::browser_admin::{ADMIN, open_settings, until};
use crate::common::{TestApp, TestDb};
use crate::crm_support::install_app;
use crate::reports::{conversation, document, ev, record};

const DAY: i64 = 86_400_000;

/// Choose `value` in the select `id` as a user would.
async fn choose(browser: &fantoccini::Client, id: &str, value: &str) {
    let script = format!(
        "var s = document.getElementById({id:?}); s.value = {value:?}; \
         s.dispatchEvent(new Event('change')); return s.value"
    );
    assert_eq!(js(browser, &script).await, Value::String(value.to_owned()));
}

/// Open the settings through the CRM's shell in `theme` and pick `playbook` in the
/// Reports section once it is listed.
async fn open_report(browser: &fantoccini::Client, url: &str, theme: &str, playbook: &str) {
    open_settings(browser, url, ADMIN, theme).await;
    until(
        browser,
        "the playbook in the Reports section",
        &format!("document.querySelector('#rp-playbook option[value={playbook:?}]')"),
    )
    .await;
    choose(browser, "rp-playbook", playbook).await;
}

/// The row `label` of the totals table.
fn total(label: &str) -> String {
    format!(
        "[...document.querySelectorAll('#rp-totals tr')].find(r => r.querySelector('th').textContent === {label:?}).querySelector('td').textContent"
    )
}

#[tokio::test]
async fn an_admin_switches_the_range_and_downloads_the_csv() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = install_app(&app, ADMIN).await;
    let playbook = {
        let mut conn = app.state.db.conn().unwrap();
        let pb = playbooks::save_and_publish(&mut conn, &company, &document("Team size?")).unwrap();
        // Today: three shown, two engaged. Ten days ago: five shown, one engaged.
        let now = db::now_ms();
        for (at, shown, engaged) in [(now, 3, 2), (now - 10 * DAY, 5, 1)] {
            for i in 0..shown {
                let c = conversation(&mut conn, &company, &pb.version_id, at, false, false);
                let mut events = vec![ev(kind::SHOWN, &pb.playbook_id, None, None, pb.version)];
                if i < engaged {
                    events.push(ev(kind::ENGAGED, &pb.playbook_id, None, None, pb.version));
                }
                record(&mut conn, &company, &c, false, false, at, &events);
            }
        }
        pb.playbook_id
    };

    in_browser(&app, move |browser, url| async move {
        open_report(&browser, &url, "light", &playbook).await;
        until(&browser, "the version list", "document.querySelectorAll('#rp-version option').length === 2").await;

        choose(&browser, "rp-range", "today").await;
        until(&browser, "today's figures", &format!("document.querySelector('#rp-out .report') && {} === '3'", total("Shown"))).await;
        assert_eq!(js(&browser, &format!("return {}", total("Engaged"))).await, "2");
        assert_eq!(js(&browser, "return document.querySelectorAll('#rp-series tbody tr').length").await, 1);
        let today_chart = js(&browser, "return document.querySelector('#rp-out svg').outerHTML").await;

        choose(&browser, "rp-range", "30d").await;
        until(&browser, "30 days' figures", &format!("document.querySelector('#rp-out .report') && {} === '8'", total("Shown"))).await;
        assert_eq!(js(&browser, &format!("return {}", total("Engaged"))).await, "3");
        assert_eq!(js(&browser, "return document.querySelectorAll('#rp-series tbody tr').length").await, 30);
        let month_chart = js(&browser, "return document.querySelector('#rp-out svg').outerHTML").await;
        assert_ne!(today_chart, month_chart, "the chart did not change");

        // The download link follows the choice, and its CSV holds the same figures.
        let href = js(&browser, "return document.getElementById('rp-csv').href").await;
        let href = href.as_str().unwrap().to_owned();
        assert!(href.contains("range=30d") && href.contains("format=csv"), "{href}");
        let csv = browser
            .execute_async(
                "var done = arguments[arguments.length - 1]; \
                 fetch(document.getElementById('rp-csv').href, {credentials: 'same-origin'}) \
                   .then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t]))) \
                   .catch(e => done([0, '', String(e)]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(csv[0], 200, "{csv}");
        assert!(csv[1].as_str().unwrap().starts_with("text/csv"), "{csv}");
        let text = csv[2].as_str().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "section,item,measure,value");
        for line in ["totals,,shown,8", "totals,,engaged,3", "totals,,converted,0"] {
            assert!(lines.contains(&line), "{line} missing in {text}");
        }
        let series_shown: i64 = lines
            .iter()
            .filter(|l| l.starts_with("series,") && l.contains(",shown,"))
            .map(|l| l.rsplit(',').next().unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(series_shown, 8, "{text}");
    })
    .await;
}

/// How the report lies out in the page: whether anything is wider than the settings frame,
/// every table cell cut from view (a box that clips must hold the cell; a table may scroll
/// in its own box only when even wrapped it is wider than the report, and then that box
/// must be in view), and the contrast of the tables' text and the charts' labels with the
/// page behind them.
const LAYOUT: &str = r#"
function rgb(c) { var m = c.match(/[\d.]+/g).map(Number); return m.length > 3 && m[3] === 0 ? null : m.slice(0, 3); }
function lum(c) { var v = c.map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function back(e) { for (; e; e = e.parentElement) { var b = rgb(getComputedStyle(e).backgroundColor); if (b) return b; } return [255, 255, 255]; }
function contrast(e, prop) { var f = lum(rgb(getComputedStyle(e)[prop])), b = lum(back(e)); return (Math.max(f, b) + 0.05) / (Math.min(f, b) + 0.05); }
var width = document.documentElement.clientWidth;
function scrolled(e) { for (e = e.parentElement; e && e !== document.body; e = e.parentElement) { if (/auto|scroll/.test(getComputedStyle(e).overflowX)) return true; } return false; }
var wide = [...document.querySelectorAll('body *')].filter(function (e) {
  if (scrolled(e)) return false;
  var r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1;
}).map(function (e) { return e.tagName + (e.id ? '#' + e.id : '') + ' ' + e.textContent.slice(0, 30) + ' in ' + e.parentElement.tagName + ' ' + Math.round(e.getBoundingClientRect().right) + '>' + width; });
var cells = [...document.querySelectorAll('#rp-out td, #rp-out th')];
var room = document.getElementById('rp-out').getBoundingClientRect().width;
function narrowest(t) { var w = t.style.width; t.style.width = 'min-content'; var m = t.getBoundingClientRect().width; t.style.width = w; return m; }
function reachable(cell) {
  var r = cell.getBoundingClientRect(), left = r.left, right = r.right;
  if (r.width === 0 && r.height === 0) return false;
  var fits = narrowest(cell.closest('table')) <= room + 1;
  for (var e = cell.parentElement; e; e = e.parentElement) {
    var overflow = getComputedStyle(e).overflowX;
    if (overflow === 'visible') continue;
    var b = e.getBoundingClientRect();
    if (/auto|scroll/.test(overflow) && !fits) { left = b.left; right = b.right; continue; }
    if (left < b.left - 1 || right > b.right + 1) return false;
  }
  return left >= -1 && right <= width + 1;
}
var hidden = cells.filter(function (c) { return !reachable(c); }).map(function (c) {
  var t = c.closest('table'); return (t.id || 'table') + ': ' + c.textContent.slice(0, 20) + ' ' + Math.round(c.getBoundingClientRect().left) + '..' + Math.round(c.getBoundingClientRect().right) + ' of ' + width;
});
var labels = [...document.querySelectorAll('#rp-out svg text')];
return {
  page_scrolls: document.documentElement.scrollWidth > width + 1,
  wide: wide.slice(0, 10),
  cut_cells: hidden.slice(0, 10),
  tables: document.querySelectorAll('#rp-out table').length,
  text: Math.min.apply(null, cells.map(function (e) { return contrast(e, 'color'); })),
  labels: Math.min.apply(null, labels.map(function (e) { return contrast(e, 'fill'); })),
  font: Math.min.apply(null, labels.map(function (e) { return e.getBoundingClientRect().height; })),
  charts: document.querySelectorAll('#rp-out svg').length,
};
"#;

/// The report of the hand-written fixture at 1280 and 360 px, in the CRM's light and dark
/// themes: nothing wider than the frame (tables scroll in their own box), the tables' text
/// and the charts' labels readable against the page behind them.
#[tokio::test]
async fn the_report_reads_at_1280_and_360_px_in_light_and_dark() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let company = install_app(&app, ADMIN).await;
    let fx = {
        let mut conn = app.state.db.conn().unwrap();
        crate::reports::seed(&mut conn)
    };
    assert_eq!(fx.company, company);
    let playbook = fx.playbook.clone();
    let shots = std::env::var("REPORT_SCREENSHOTS").ok();
    in_browser(&app, move |browser, url| async move {
        for theme in ["light", "dark"] {
            for width in [1280, 360] {
                browser.set_window_rect(0, 0, width, 900).await.unwrap();
                open_report(&browser, &url, theme, &playbook).await;
                choose(&browser, "rp-range", "7d").await;
                until(&browser, "the week's figures", &format!("document.querySelector('#rp-out .report') && {} === '10'", total("Shown"))).await;
                js(&browser, "document.getElementById('reports').scrollIntoView(); return null").await;
                // For a person to look at: REPORT_SCREENSHOTS=DIR keeps the pages as PNGs.
                if let Some(dir) = &shots {
                    let top = js(&browser, "return document.getElementById('reports').offsetTop").await;
                    for part in 0..8 {
                        browser.enter_parent_frame().await.unwrap();
                        js(&browser, &format!("window.scrollTo(0, document.getElementById('app-frame').offsetTop + {top} + {part} * 650); return null")).await;
                        let png = browser.screenshot().await.unwrap();
                        std::fs::write(format!("{dir}/report-{theme}-{width}-{part}.png"), png).unwrap();
                        shown(&browser, "#app-frame").await.enter_frame().await.unwrap();
                    }
                }
                let found = js(&browser, LAYOUT).await;
                let what = format!("{theme} at {width} px: {found}");
                assert_eq!(found["charts"], 3, "{what}");
                assert_eq!(found["page_scrolls"], false, "{what}");
                assert_eq!(found["wide"], serde_json::json!([]), "{what}");
                assert!(found["tables"].as_i64().unwrap() >= 7, "{what}");
                assert_eq!(found["cut_cells"], serde_json::json!([]), "{what}");
                assert!(found["text"].as_f64().unwrap() >= 4.5, "{what}");
                assert!(found["labels"].as_f64().unwrap() >= 3.0, "{what}");
                assert!(found["font"].as_f64().unwrap() >= 9.0, "chart labels too small: {what}");
            }
        }
    })
    .await;
}

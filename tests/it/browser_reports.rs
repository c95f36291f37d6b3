//! The Reports section in a real browser, opened through the sandbox CRM's shell: an admin
//! picks a playbook, switches the range from today to 30 days and sees the figures, the
//! per-day chart and its table change, then downloads the CSV the link offers and finds the
//! same figures in it.

use concierge::db::analytics::kind;
use concierge::db::{self, playbooks};
use serde_json::Value;

use crate::browser::{in_browser, js};
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
        open_settings(&browser, &url, ADMIN, "light").await;
        until(
            &browser,
            "the playbook in the Reports section",
            &format!("document.querySelector('#rp-playbook option[value={playbook:?}]')"),
        )
        .await;
        choose(&browser, "rp-playbook", &playbook).await;
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

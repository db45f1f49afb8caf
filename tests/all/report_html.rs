//! The HTML run report (`run --report-html`, `runtime report --html`) of
//! the pod-usage, PST (with a damaged mailbox) and SQLite examples, opened
//! in headless Chromium (Debian's `chromium`, installed by `scripts/setup`):
//! a screenshot is taken, and the rendered DOM must hold one lane per
//! worker, one bar per split that ran and the failure list. Chromium runs
//! with a proxy the test owns: the page must not make it see any request.
//! Chromium itself still talks to its own services through it (component
//! updates, the account and time services, whatever the flags say); those
//! hosts ([`CHROMIUM_OWN`]) are set apart, and the page names no URL at all
//! ([`assert_self_contained`]), so none of them can be the page's either.
//! A page that does load an image is the control: its request is seen.

use crate::util::{Case, repo};
use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Hosts Chromium contacts on its own, whatever the page.
const CHROMIUM_OWN: &[&str] = &[
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "clientservices.googleapis.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    "optimizationguide-pa.googleapis.com",
];

/// The host a proxied request is for: `CONNECT host:443 …` or
/// `GET http://host/… …`.
fn request_host(first_line: &str) -> String {
    let target = first_line.split_whitespace().nth(1).unwrap_or("");
    let target = target.split("://").nth(1).unwrap_or(target);
    let host = target.split(['/', ':']).next().unwrap_or("");
    host.to_string()
}

/// What Chromium made of a page.
struct Rendered {
    dom: String,
    png: Vec<u8>,
    /// Hosts of the requests the proxy saw, Chromium's own left out.
    requested: Vec<String>,
}

fn chromium(case: &Case, html: &Path, extra: &[&str], proxy: u16) -> std::process::Output {
    let profile = case.path("chromium-profile");
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--proxy-server=http://127.0.0.1:{proxy}"))
        // Loopback too goes through the proxy.
        .arg("--proxy-bypass-list=<-loopback>")
        .args(extra)
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium")
}

/// Opens `html` in headless Chromium twice (screenshot, DOM) through a
/// proxy that must see nothing.
fn render(case: &Case, html: &Path) -> Rendered {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: scripts/setup installs Debian's chromium, which these tests need"
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (requests, done) = (requests.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let mut buf = [0u8; 1024];
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(500)));
                        let n = stream.read(&mut buf).unwrap_or(0);
                        let text = String::from_utf8_lossy(&buf[..n]);
                        requests.lock().unwrap().push(text.lines().next().unwrap_or("").to_string());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        })
    };
    let shot = case.path("page.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(case, html, &[&format!("--screenshot={}", shot.display())], port);
    assert!(out.status.success(), "chromium --screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    let out = chromium(case, html, &["--dump-dom"], port);
    assert!(out.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&out.stderr));
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let requested = requests
        .lock()
        .unwrap()
        .iter()
        .map(|line| request_host(line))
        .filter(|host| !CHROMIUM_OWN.contains(&host.as_str()))
        .collect();
    Rendered { dom: String::from_utf8(out.stdout).unwrap(), png, requested }
}

/// Every `src=` and `href=` of the page points inside it (`#…`) or is a
/// `data:` URL: nothing over the network, protocol-relative included.
fn assert_self_contained(html: &str) {
    assert!(html.contains("Content-Security-Policy"), "the page sets a CSP");
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "url("] {
        for (i, _) in lower.match_indices(attr) {
            let value = lower[i + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                value.starts_with('#') || value.starts_with("data:"),
                "external reference: {}",
                &html[i..(i + 80).min(html.len())]
            );
        }
    }
    for scheme in ["http://", "https://"] {
        assert!(!lower.contains(scheme), "the page names a URL ({scheme})");
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Runs `pipeline` with `--report-html`, renders the page, checks the
/// figures against the JSON report, and checks that `runtime report
/// --html` draws the same from the JSON. Returns the report and the DOM.
fn run_and_render(case: &Case, pipeline: &str, workers: usize, extra: &[&str]) -> (Value, String) {
    let html = case.path("run.html");
    let w = workers.to_string();
    let mut args = vec!["-w", w.as_str(), "--report-html", html.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (run, report) = case.run_pipeline(pipeline, &args);
    run.expect_code(0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_self_contained(&page);
    let rendered = render(case, &html);
    assert!(rendered.requested.is_empty(), "the page made requests: {:?}", rendered.requested);
    assert!(rendered.png.len() > 1000 && rendered.png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    let dom = rendered.dom;
    assert_eq!(count(&dom, "class=\"lane\""), workers, "one lane per worker");
    let ran = report["splits_total"].as_u64().unwrap()
        - report["splits_skipped"].as_u64().unwrap()
        - report["splits_already_committed"].as_u64().unwrap();
    assert_eq!(count(&dom, "<rect class=\"bar "), ran as usize, "one bar per split");
    assert_eq!(report["timeline"]["splits"].as_array().unwrap().len() as u64, ran);
    for id in ["timeline-svg", "scatter-svg", "measured-spread", "time-svg", "failure-list", "output-table"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    // The same page from the JSON report.
    let again = case.path("again.html");
    case.run(&["report", "report.json", "--html", again.to_str().unwrap()]).expect_code(0);
    let again = std::fs::read_to_string(&again).unwrap();
    assert_eq!(count(&again, "<rect class=\"bar "), ran as usize);
    assert_eq!(count(&again, "class=\"lane\""), workers);
    (report, dom)
}

#[test]
fn pod_usage_report_draws_every_split_on_its_worker() {
    let case = Case::new();
    case.copy("examples/pod-usage/pipeline.toml", "pipeline.toml");
    case.copy("examples/pod-usage/data", "data");
    let (report, dom) =
        run_and_render(&case, "pipeline.toml", 2, &["--set", "source.max_split_bytes=\"64 KiB\""]);
    assert!(report["splits_total"].as_u64().unwrap() > 10, "{}", report["splits_total"]);
    assert_eq!(count(&dom, "<rect class=\"bar ok\""), report["splits_total"].as_u64().unwrap() as usize);
    assert!(dom.contains("None: every split that ran succeeded."));
    // Each bar sits on the lane of the worker that ran it; workers and
    // totals agree with the splits.
    let splits = report["timeline"]["splits"].as_array().unwrap();
    let on = |w: u64| splits.iter().filter(|s| s["worker"] == w).count() as u64;
    for lane in report["timeline"]["workers"].as_array().unwrap() {
        assert_eq!(lane["splits"].as_u64().unwrap(), on(lane["worker"].as_u64().unwrap()));
    }
    for s in splits {
        assert!(s["end"].as_f64().unwrap() >= s["start"].as_f64().unwrap());
        assert!(s["end"].as_f64().unwrap() <= report["elapsed_seconds"].as_f64().unwrap());
    }
    let time = &report["timeline"]["time"];
    assert!(time["reader"].as_f64().unwrap() > 0.0);
    assert_eq!(time["transforms"].as_array().unwrap().len(), 2, "labels and daily");
    assert!(!report["timeline"]["commits"].as_array().unwrap().is_empty());
    // The plan drawn before the run: the same splits on the same lanes.
    let plan = case.path("plan.html");
    case.run(&[
        "plan",
        "pipeline.toml",
        "-w",
        "2",
        "--set",
        "source.max_split_bytes=\"64 KiB\"",
        "--html",
        plan.to_str().unwrap(),
    ])
    .expect_code(0);
    let page = std::fs::read_to_string(&plan).unwrap();
    assert_self_contained(&page);
    let rendered = render(&case, &plan);
    assert!(rendered.requested.is_empty(), "the plan page made requests: {:?}", rendered.requested);
    assert!(rendered.png.starts_with(b"\x89PNG"));
    assert_eq!(count(&rendered.dom, "class=\"lane\""), 2);
    assert_eq!(count(&rendered.dom, "<rect class=\"bar ok\""), splits.len());
}

/// The control: a page that loads an image is seen by the proxy.
#[test]
fn the_proxy_sees_a_page_that_loads_something() {
    let case = Case::new();
    let page = case.write(
        "loads.html",
        "<!DOCTYPE html><html><body><img src=\"http://report-test.invalid/x.png\"></body></html>",
    );
    let rendered = render(&case, &page);
    assert!(rendered.requested.iter().any(|h| h == "report-test.invalid"), "{:?}", rendered.requested);
}

#[test]
fn pst_report_lists_the_damaged_mailbox() {
    let case = Case::new();
    case.copy("examples/pst-mailboxes/pipeline.toml", "pipeline.toml");
    case.copy("tests/fixtures/pst", "mailboxes");
    // A damaged mailbox whose name is markup: it must fail alone, and be
    // shown as text.
    // (Its header is overwritten: no PST signature.)
    let mut damaged = std::fs::read(repo().join("tests/fixtures/pst/sample1.pst")).unwrap();
    damaged[..4096].fill(0xA5);
    case.write("mailboxes/damaged-<b>&x.pst", damaged);
    let (report, dom) = run_and_render(&case, "pipeline.toml", 2, &[]);
    let failures = report["failures"].as_array().unwrap();
    assert!(
        failures.iter().any(|f| f["input"].as_str().unwrap_or("").contains("damaged-<b>&x.pst")),
        "{failures:?}"
    );
    let list = &dom[dom.find("id=\"failure-list\"").unwrap()..];
    let list = &list[..list.find("</ul>").unwrap()];
    assert!(list.contains("damaged-&lt;b&gt;&amp;x.pst"), "{list}");
    assert!(!dom.contains("<b>&amp;x"), "plugin and input text is escaped");
    assert_eq!(count(list, "class=\"failure\""), failures.len());
    assert!(count(&dom, "<rect class=\"bar failed\"") >= 1);
    assert!(dom.contains("id=\"quarantine-list\""), "the quarantine is shown");
}

#[test]
fn sql_report_draws_the_key_range_splits() {
    let case = Case::new();
    case.copy("examples/sql-export/pipeline.toml", "pipeline.toml");
    let out = Command::new("python3")
        .arg(repo().join("examples/sql-export/make-sample-db.py"))
        .arg(case.path("sample.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "make-sample-db.py: {}", String::from_utf8_lossy(&out.stderr));
    let (report, dom) = run_and_render(&case, "pipeline.toml", 2, &[]);
    assert_eq!(report["splits_total"], 9, "8 key ranges and the NULL split");
    assert_eq!(count(&dom, "<rect class=\"bar ok\""), 9);
    assert!(dom.contains("20,000"), "the output's rows");
}

//! The console against a real stack: its guard over plain HTTP, and every page in
//! Debian's headless Chromium driven through chromedriver (scripts/browser.sh installs
//! both). Screenshots of each page go to `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::harness::{TestStack, console_of, eventually, http_call as call, require};

#[test]
fn the_console_needs_its_token_and_refuses_actions_from_another_origin() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    let up = stack.up(&[]);
    let (url, base) = console_of(&up);
    let port = base.rsplit(':').next().unwrap().to_owned();

    // No token: nothing, not even the page.
    for path in ["/", "/api/stack", "/console.js", "/api/logs/collector"] {
        assert_eq!(call("GET", &format!("{base}{path}"), &[]).0, 401, "{path} without the token");
    }
    assert_eq!(call("GET", &format!("{base}/?token=wrong"), &[]).0, 401);
    // The token in the URL becomes a cookie the page's script cannot read, and leaves
    // the address bar.
    let (status, headers, _) = call("GET", &url, &[]);
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/");
    let set = headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("obsdemo_console_{port}=")), "{cookie}");

    let (status, headers, body) = call("GET", &format!("{base}/"), &[("cookie", &cookie)]);
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!body.contains("<script>") && !body.contains("http://") && !body.contains("https://"), "{body}");
    // The whole first load (page, script, style) is small, and all of it is ours.
    let first_load: usize = ["/", "/console.js", "/console.css"]
        .iter()
        .map(|path| call("GET", &format!("{base}{path}"), &[("cookie", &cookie)]).2.len())
        .sum();
    assert!(first_load < 250 * 1024, "first load is {first_load} bytes");
    let (status, _, body) = call("GET", &format!("{base}/api/stack"), &[("cookie", &cookie)]);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert!(report["components"].as_array().unwrap().iter().any(|c| c["name"] == "console"), "{report:#}");

    // `obsdemo open --print` gives the same address, and a log downloads whole.
    let open = stack.run(&["open", "--print"]);
    assert_eq!(String::from_utf8_lossy(&open.stdout).trim(), url, "{}", super::harness::describe(&open));
    let (status, headers, log) = call("GET", &format!("{base}/api/logs/collector/download"), &[("cookie", &cookie)]);
    assert_eq!(status, 200);
    assert!(headers["content-disposition"].to_str().unwrap().contains("collector.log"));
    let file = std::fs::read_to_string(stack.state_dir().join("logs/collector.log")).unwrap();
    assert!(!log.is_empty() && file.starts_with(&log), "the download is the log (which may have grown since)");
    assert_eq!(
        call("GET", &format!("{base}/api/logs/..%2Fsecrets%2Fconsole-token/download"), &[("cookie", &cookie)]).0,
        404
    );

    // The console will not stop itself (nothing would be left to start it again).
    let own = format!("{base}/api/components/console/stop");
    assert_eq!(call("POST", &own, &[("cookie", &cookie), ("origin", &base)]).0, 409);

    // An action from another site's page, or with no origin, is refused and changes nothing.
    let restart = format!("{base}/api/components/collector/restart");
    let before = stack.component("collector")["pid"].as_u64().unwrap();
    let evil = [("cookie", cookie.as_str()), ("origin", "http://evil.example")];
    assert_eq!(call("POST", &restart, &evil).0, 403);
    assert_eq!(call("POST", &restart, &[("cookie", &cookie)]).0, 403);
    assert_eq!(call("GET", &restart, &[("cookie", &cookie)]).0, 405, "actions are POST only");
    assert_eq!(call("POST", &restart, &[("origin", &base)]).0, 401, "an action needs the cookie too");
    assert_eq!(stack.component("collector")["pid"].as_u64().unwrap(), before);
    // From its own page it restarts the component.
    let (status, _, body) = call("POST", &restart, &[("cookie", &cookie), ("origin", &base)]);
    assert_eq!(status, 200, "{body}");
    eventually("the collector restarted", Duration::from_secs(30), || {
        let c = stack.component("collector");
        (c["healthy"] == true && c["pid"].as_u64() != Some(before)).then_some(())
    });
    stack.down();
}

#[test]
fn a_console_off_loopback_is_said_out_loud() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::with_config("bind = \"0.0.0.0\"");
    let out = stack.try_up(&["--without", "services"]);
    assert!(out.status.success(), "{}", super::harness::describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let port = stack.port(16600);
    assert!(
        stderr.contains("reachable from the network") && stderr.contains(&format!("port {port} (console http)")),
        "{stderr}"
    );
    stack.down();
}

/// chromedriver on a free port, ended with the test.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let program =
            std::env::var_os("OBSDEMO_CHROMEDRIVER").map(PathBuf::from).unwrap_or_else(|| "chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs chromedriver ({}: {e}); scripts/browser.sh installs Debian's chromium and chromium-driver", program.display())
            });
        eventually("chromedriver listens", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(drop)
        });
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let chromium = std::env::var("OBSDEMO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860"],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Runs `script` in the page until it returns something truthy.
async fn until(page: &Client, what: &str, timeout: Duration, script: &str) -> Value {
    let began = Instant::now();
    loop {
        let value = page.execute(script, vec![]).await.unwrap_or(Value::Null);
        if !(value.is_null() || value == false || value == "") {
            return value;
        }
        assert!(began.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Equal JSON, numbers compared as numbers (a browser writes 20.0 as 20).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// POSTs `body` to chromedriver's own endpoint (what fantoccini does not wrap).
async fn call_json(url: &str, body: Value) -> Value {
    let client = obsdemo::http::local_client(Duration::from_secs(10));
    client.post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

async fn screenshot(page: &Client, name: &str) {
    let png = page.screenshot().await.expect("a screenshot");
    let dir = super::harness::checkout().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[test]
fn the_console_shows_the_stack_live_and_runs_logs_load_and_doctor_in_a_real_browser() {
    require(&["jaeger", "collector", "prometheus"]);
    // With RED metrics, so the Metrics page has both dashboards to draw.
    let stack = TestStack::with_config("[metrics]\nred = true\n");
    let up = stack.up(&[]);
    let (url, base) = console_of(&up);
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let page = browser(&driver).await;
        page.goto(&url).await.unwrap();
        assert_eq!(page.current_url().await.unwrap().as_str(), format!("{base}/"), "the token leaves the address bar");

        // Stack: every component healthy.
        let expected = stack.status()["components"].as_array().unwrap().len() as u64;
        let script = format!(
            "const rows = [...document.querySelectorAll('#components tbody tr')]; \
             return rows.length === {expected} && rows.filter(r => r.dataset.state !== 'disabled') \
               .every(r => r.dataset.healthy === 'true') && rows.length;"
        );
        until(&page, "every component healthy on the page", Duration::from_secs(20), &script).await;
        screenshot(&page, "stack").await;

        // The Collector killed: the page shows it restarting and back, without a reload.
        page.execute("window.notReloaded = true;", vec![]).await.unwrap();
        let pid_cell = "const r = document.querySelector('#components tr[data-name=\"collector\"]'); \
                        return r && r.dataset.healthy === 'true' && r.dataset.pid;";
        let before = until(&page, "the collector's pid", Duration::from_secs(5), pid_cell).await;
        let killed = Instant::now();
        stack.kill("collector");
        let back = format!(
            "const r = document.querySelector('#components tr[data-name=\"collector\"]'); \
             return window.notReloaded && r && r.dataset.healthy === 'true' && r.dataset.pid !== {before} \
             && r.dataset.restarts !== '0';"
        );
        until(&page, "the collector shown restarted", Duration::from_secs(15), &back).await;
        eprintln!("the page showed the collector back {:.1} s after SIGKILL", killed.elapsed().as_secs_f64());

        // An app (here a demo service) stopped from the page stays stopped, then starts again.
        let stop = "document.querySelector('button[data-action=\"stop\"][data-for=\"Shipping-service\"]').click(); return true;";
        page.execute(stop, vec![]).await.unwrap();
        until(&page, "Shipping-service shown stopped", Duration::from_secs(10),
            "const r = document.querySelector('#components tr[data-name=\"Shipping-service\"]'); return r && r.dataset.state === 'stopped';").await;
        assert_eq!(stack.component("Shipping-service")["state"], "stopped");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(stack.component("Shipping-service")["state"], "stopped", "a stopped app is not restarted");
        let start = "const b = document.querySelector('button[data-action=\"start\"][data-for=\"Shipping-service\"]'); if (b) b.click(); return !!b;";
        until(&page, "the Start button", Duration::from_secs(5), start).await;
        until(&page, "Shipping-service running again", Duration::from_secs(20),
            "const r = document.querySelector('#components tr[data-name=\"Shipping-service\"]'); return r && r.dataset.healthy === 'true';").await;

        // Logs: a line written after the page opened appears.
        page.goto(&format!("{base}/#logs/collector")).await.unwrap();
        until(&page, "the collector's log", Duration::from_secs(10), "return document.getElementById('log').textContent.length > 0;").await;
        let marker = format!("console-test-marker-{}", std::process::id());
        {
            use std::io::Write;
            let mut log = std::fs::OpenOptions::new().append(true).open(stack.state_dir().join("logs/collector.log")).unwrap();
            writeln!(log, "{marker}").unwrap();
        }
        let script = format!("return document.getElementById('log').textContent.includes('{marker}');");
        until(&page, "the new log line", Duration::from_secs(10), &script).await;
        page.find(Locator::Id("log-filter")).await.unwrap().send_keys(&marker).await.unwrap();
        let filtered = until(&page, "the filter", Duration::from_secs(5), "const t = document.getElementById('log').textContent; return t.split('\\n').length === 1 && t;").await;
        assert!(filtered.as_str().unwrap().contains(&marker));
        page.find(Locator::Id("log-filter")).await.unwrap().clear().await.unwrap();
        page.execute("document.getElementById('log-filter').dispatchEvent(new Event('input'));", vec![]).await.unwrap();
        screenshot(&page, "logs").await;

        // Load: a run started from the page ends with its verdict, and the page shows
        // the report the operation made (the same as `load --json`).
        page.execute("location.hash = 'load';", vec![]).await.unwrap();
        let duration = page.find(Locator::Css("#load-form input[name=duration]")).await.unwrap();
        duration.clear().await.unwrap();
        // Long enough to span several flushes of the RED series (every 5 s) and scrapes,
        // so their rates have points to draw below.
        duration.send_keys("15s").await.unwrap();
        let rps = page.find(Locator::Css("#load-form input[name=rps]")).await.unwrap();
        rps.clear().await.unwrap();
        rps.send_keys("20").await.unwrap();
        page.find(Locator::Id("load-start")).await.unwrap().click().await.unwrap();
        let shown = until(&page, "the load report", Duration::from_secs(90), "const r = document.getElementById('load-report'); return !r.hidden && r.dataset.report;").await;
        let shown: Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();
        let text = page.find(Locator::Id("load-report")).await.unwrap().text().await.unwrap();
        assert!(shown["passed"] == true, "{shown:#}");
        assert!(text.contains(&format!("requests   {} ({} ok", shown["requests"], shown["successes"])), "{text}");
        assert!(text.contains("result     PASSED"), "{text}");
        let v = &shown["verification"];
        assert_eq!(v["complete"], v["expected"], "{shown:#}");
        until(&page, "the run listed", Duration::from_secs(5), "return document.querySelector('#runs tr[data-state=\"passed\"]') !== null;").await;
        let runs = page.execute("return fetch('/api/load').then(r => r.json());", vec![]).await.unwrap();
        assert!(same_json(&runs[0]["report"], &shown), "the page shows the report the load operation made:\n{shown:#}\n{:#}", runs[0]["report"]);
        screenshot(&page, "load").await;

        // Traces: the run's traces are found, and one's waterfall shows the five services
        // nested as they call each other.
        page.execute("location.hash = 'traces';", vec![]).await.unwrap();
        until(&page, "the services from Jaeger", Duration::from_secs(15), "return document.getElementById('trace-service').value === 'Order-service';").await;
        page.execute("document.querySelector('#trace-form button[type=submit]').click();", vec![]).await.unwrap();
        let id = until(&page, "a trace of the run listed", Duration::from_secs(15),
            "const r = [...document.querySelectorAll('#trace-results tbody tr')].find(r => r.children[5].textContent.split(', ').length === 5); return r && r.dataset.trace;").await;
        page.execute(&format!("location.hash = 'traces/{}';", id.as_str().unwrap()), vec![]).await.unwrap();
        let shape = until(&page, "the waterfall", Duration::from_secs(15),
            "const rows = [...document.querySelectorAll('#waterfall .span-row')]; return rows.length > 0 && \
             {services: [...new Set(rows.map(r => r.dataset.service))].sort(), depth: Math.max(...rows.map(r => Number(r.dataset.depth)))};").await;
        let services: Vec<&str> = shape["services"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for service in ["Inventory-service", "Notification-service", "Order-service", "Payment-service", "Shipping-service"] {
            assert!(services.contains(&service), "{service} in the waterfall: {shape}");
        }
        assert!(shape["depth"].as_u64().unwrap() >= 2, "spans are nested by parent: {shape}");
        screenshot(&page, "traces").await;
        page.execute("document.querySelector('#waterfall .span-row').click();", vec![]).await.unwrap();
        until(&page, "a span's attributes", Duration::from_secs(5), "return document.querySelector('.span-detail') !== null;").await;

        // Metrics: every panel of the system dashboard is drawn with data points, from the
        // same definitions as Grafana's.
        page.execute("location.hash = 'metrics';", vec![]).await.unwrap();
        let panels = obsdemo::components::dashboards::system_resources().panels;
        let drawn: Vec<String> = panels.iter().filter(|p| p.kind != "row").map(|p| p.title.clone()).collect();
        let empty = until(&page, "every panel drawn", Duration::from_secs(60),
            "const boxes = [...document.querySelectorAll('#panels .panel')]; \
             return document.getElementById('panels').dataset.drawn && boxes.length > 0 && \
             JSON.stringify(boxes.map(b => [b.dataset.panel, Number(b.dataset.points || 0)]));").await;
        let counted: Vec<(String, u64)> = serde_json::from_str(empty.as_str().unwrap()).unwrap();
        assert_eq!(counted.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), drawn, "the page has Grafana's panels");
        let without: Vec<&String> = counted.iter().filter(|c| c.1 == 0).map(|c| &c.0).collect();
        assert!(without.is_empty(), "panels without data points: {without:?}");
        screenshot(&page, "metrics").await;
        // The RED dashboard is offered where the stack makes RED metrics, and every one
        // of its panels is drawn with points from the load run's spans.
        let offered = page.execute("return [...document.getElementById('metrics-dashboard').options].map(o => o.value);", vec![]).await.unwrap();
        assert_eq!(offered, json!(["system", "red"]), "{offered}");
        page.execute("const s = document.getElementById('metrics-dashboard'); s.value = 'red'; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
        let red = obsdemo::components::dashboards::red().panels;
        let drawn: Vec<String> = red.iter().filter(|p| p.kind != "row").map(|p| p.title.clone()).collect();
        let count = "const boxes = [...document.querySelectorAll('#panels .panel')]; \
                     return document.getElementById('panels').dataset.dashboard === 'red' && document.getElementById('panels').dataset.drawn \
                       && JSON.stringify(boxes.map(b => [b.dataset.panel, Number(b.dataset.points || 0)]));";
        // The page redraws every 10 s; the series may still be on their way.
        let began = Instant::now();
        let counted: Vec<(String, u64)> = loop {
            let seen = until(&page, "the RED panels drawn", Duration::from_secs(30), count).await;
            let counted: Vec<(String, u64)> = serde_json::from_str(seen.as_str().unwrap()).unwrap();
            if counted.iter().all(|c| c.1 > 0) || began.elapsed() > Duration::from_secs(60) {
                break counted;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        assert_eq!(counted.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), drawn, "the page has the RED dashboard's panels");
        let without: Vec<&String> = counted.iter().filter(|c| c.1 == 0).map(|c| &c.0).collect();
        if !without.is_empty() {
            // What Prometheus holds of the series the panels read, to say why.
            let held = page.execute("return fetch('/api/metrics/query_range?' + new URLSearchParams({ query: 'traces_span_metrics_calls_total', \
                start: Math.floor(Date.now() / 1000) - 300, end: Math.floor(Date.now() / 1000), step: 5 })).then(r => r.text());", vec![]).await;
            panic!("RED panels without data points: {without:?}\nthe calls series over 5 minutes: {held:?}");
        }
        screenshot(&page, "metrics-red").await;

        // Doctor: every hop ok; then Jaeger frozen is the broken hop.
        page.execute("location.hash = 'doctor';", vec![]).await.unwrap();
        page.find(Locator::Id("doctor-run")).await.unwrap().click().await.unwrap();
        let verdicts = "const hops = [...document.querySelectorAll('#hops li')]; \
                        return !document.getElementById('doctor-run').disabled && hops.length > 0 && hops.map(h => h.dataset.verdict).join(',');";
        let ok = until(&page, "doctor's hops", Duration::from_secs(90), verdicts).await;
        assert!(ok.as_str().unwrap().split(',').all(|v| v == "ok"), "{ok}");
        screenshot(&page, "doctor").await;
        let jaeger = stack.component("jaeger")["pid"].as_u64().unwrap().to_string();
        assert!(Command::new("kill").args(["-STOP", &jaeger]).status().unwrap().success());
        page.find(Locator::Id("doctor-run")).await.unwrap().click().await.unwrap();
        until(&page, "doctor running again", Duration::from_secs(5), "return document.getElementById('doctor-run').disabled || document.querySelector('#hops li[data-verdict=\"broken\"]') !== null;").await;
        let broken = until(&page, "a broken hop", Duration::from_secs(120), "const b = document.querySelector('#hops li[data-verdict=\"broken\"]'); return !document.getElementById('doctor-run').disabled && b && b.textContent;").await;
        assert!(Command::new("kill").args(["-CONT", &jaeger]).status().unwrap().success());
        assert!(broken.as_str().unwrap().to_lowercase().contains("jaeger"), "{broken}");
        screenshot(&page, "doctor-broken").await;

        // The page logged no error (a CSP violation would be one) in the whole session.
        let session = page.session_id().await.unwrap().expect("a session id");
        let logged = call_json(&format!("http://127.0.0.1:{}/session/{session}/se/log", driver.port), json!({ "type": "browser" })).await;
        let errors: Vec<&Value> = logged["value"].as_array().unwrap().iter().filter(|e| e["level"] == "SEVERE").collect();
        assert!(errors.is_empty(), "the console logged errors: {errors:#?}");

        // Nothing was asked of another origin.
        let origins = page
            .execute("return [...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))];", vec![])
            .await
            .unwrap();
        assert_eq!(origins, json!([base]), "every request went to the console itself");
        page.close().await.unwrap();
    });
    stack.down();
}

// The obsdemo console. No framework: the page is four views over the console's API,
// kept live by server-sent events. Every text from the stack goes in by textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
};
const post = (url, body) => fetch(url, {
  method: "POST", credentials: "same-origin",
  headers: body ? { "Content-Type": "application/json" } : {},
  body: body ? JSON.stringify(body) : undefined,
});

// ---- pages -------------------------------------------------------------------
const pages = ["stack", "logs", "load", "doctor"];
function show() {
  const [page, arg] = (location.hash.slice(1) || "stack").split("/");
  const current = pages.includes(page) ? page : "stack";
  for (const p of pages) {
    $("page-" + p).hidden = p !== current;
    document.querySelector(`nav a[data-page="${p}"]`).toggleAttribute("aria-current", p === current);
    if (p === current) document.querySelector(`nav a[data-page="${p}"]`).setAttribute("aria-current", "page");
  }
  if (current === "logs") openLog(arg ? decodeURIComponent(arg) : $("log-name").value);
  if (current === "load") refreshRuns();
}
window.addEventListener("hashchange", show);

// ---- stack -------------------------------------------------------------------
let names = [];
function uptime(s) {
  if (s == null) return "-";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}
function stateCell(c) {
  if (c.state === "running" && c.healthy) return el("span", { class: "state good" }, "running");
  if (c.state === "running") return el("span", { class: "state warn" }, "running (unhealthy)");
  if (c.state === "starting") return el("span", { class: "state warn" }, c.restarts > 0 ? "restarting" : "starting");
  if (c.state === "failed") return el("span", { class: "state bad" }, "failed");
  return el("span", { class: "state" }, c.state);
}
function renderStack(report) {
  $("state-dir").textContent = report.state_dir;
  const body = $("components").tBodies[0];
  const rows = report.components.map((c) => {
    const probe = c.health.find((r) => !r.ok) || c.health[0];
    const health = probe
      ? el("span", { class: probe.ok ? "good" : "bad" },
          `${probe.code ?? probe.error ?? ""} ${Math.round(probe.latency_ms)} ms`)
      : "-";
    const open = c.ui_missing
      ? el("span", { class: "warn", title: c.ui_missing }, "no UI in this build")
      : (c.ui ? el("a", { href: c.ui, target: "_blank", rel: "noopener" }, "open UI") : "");
    const actions = el("td");
    if (c.state !== "disabled" && c.pid) {
      const b = el("button", { type: "button", "data-restart": c.name }, "Restart");
      b.addEventListener("click", () => restart(c.name, b));
      actions.append(b);
    }
    return el("tr", { "data-name": c.name, "data-state": c.state, "data-healthy": String(c.healthy) },
      el("td", {}, c.name), el("td", {}, stateCell(c)), el("td", {}, health),
      el("td", {}, c.pid ?? "-"), el("td", {}, uptime(c.uptime_s)), el("td", {}, c.restarts),
      el("td", { class: "why" }, c.last_exit ?? ""),
      el("td", {}, c.cpu_percent == null ? "-" : c.cpu_percent.toFixed(1) + "%"),
      el("td", {}, c.rss_bytes == null ? "-" : (c.rss_bytes / 1048576).toFixed(0) + " MiB"),
      el("td", {}, open), actions);
  });
  body.replaceChildren(...rows);
  const notes = report.components.filter((c) => c.ui_missing).map((c) => el("p", {}, `no UI: ${c.name}: ${c.ui_missing}`));
  $("notes").replaceChildren(...notes);
  const fresh = report.components.map((c) => c.name).concat("supervisor");
  if (fresh.join() !== names.join()) {
    names = fresh;
    const select = $("log-name"), chosen = select.value;
    select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (names.includes(chosen)) select.value = chosen;
  }
}
async function restart(name, button) {
  button.disabled = true;
  const answer = await post(`/api/components/${encodeURIComponent(name)}/restart`);
  if (!answer.ok) alert((await answer.json()).error || answer.statusText);
  button.disabled = false;
}
function connectStack() {
  const source = new EventSource("/api/stack/events");
  source.addEventListener("status", (e) => {
    renderStack(JSON.parse(e.data));
    $("live").textContent = "live · " + new Date().toLocaleTimeString();
    $("live").className = "live good";
  });
  source.onerror = () => { $("live").textContent = "disconnected: retrying"; $("live").className = "live bad"; };
}

// ---- logs --------------------------------------------------------------------
const MAX_LINES = 5000;
let logSource = null, logLines = [], logPartial = "", logName = "";
function renderLog() {
  const filter = $("log-filter").value;
  const shown = filter ? logLines.filter((l) => l.includes(filter)) : logLines;
  const pre = $("log");
  pre.textContent = shown.join("\n");
  if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
}
function openLog(name) {
  if (!name || name === logName) return;
  if (logSource) logSource.close();
  logName = name; logLines = []; logPartial = "";
  $("log-name").value = name;
  $("log-download").href = `/api/logs/${encodeURIComponent(name)}/download`;
  $("log").textContent = "";
  logSource = new EventSource(`/api/logs/${encodeURIComponent(name)}?lines=500`);
  logSource.addEventListener("append", (e) => {
    const parts = (logPartial + e.data).split("\n");
    logPartial = parts.pop();
    logLines.push(...parts);
    if (logLines.length > MAX_LINES) logLines.splice(0, logLines.length - MAX_LINES);
    renderLog();
  });
}
$("log-name").addEventListener("change", () => { location.hash = "logs/" + encodeURIComponent($("log-name").value); });
$("log-filter").addEventListener("input", renderLog);
$("log-form").addEventListener("submit", (e) => e.preventDefault());

// ---- load --------------------------------------------------------------------
let points = [];
function figure(label, value) { return el("div", {}, el("b", {}, value), label); }
function drawChart() {
  const canvas = $("load-chart"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, style = getComputedStyle(document.body);
  g.clearRect(0, 0, w, h);
  if (points.length < 2) return;
  const tMax = Math.max(...points.map((p) => p.t)), rMax = Math.max(1, ...points.map((p) => p.rps)), lMax = Math.max(1, ...points.map((p) => p.p99));
  const line = (key, max, color) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    points.forEach((p, i) => { const x = 40 + (p.t / tMax) * (w - 50), y = h - 20 - (p[key] / max) * (h - 40); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  };
  line("rps", rMax * 1.1, style.getPropertyValue("--accent"));
  line("p99", lMax * 1.1, style.getPropertyValue("--warn"));
  g.fillStyle = style.getPropertyValue("--muted"); g.font = "12px system-ui";
  g.fillText(`rps (blue) up to ${rMax.toFixed(0)} · p99 (amber) up to ${lMax.toFixed(1)} ms · ${(tMax / 1000).toFixed(0)} s`, 44, 14);
}
function reportText(r) {
  const l = r.latency_ms, lines = [
    `load ${r.target} for ${r.duration_s}s (run id ${r.run_id})`,
    `requests   ${r.requests} (${r.successes} ok, ${r.errors} errors = ${(r.error_rate * 100).toFixed(2)}%), achieved ${r.achieved_rps.toFixed(1)} rps`,
    `answers    ${Object.entries(r.by_status).map(([k, v]) => `${k}: ${v}`).join(", ") || "none"}`,
    `latency    p50 ${l.p50} ms · p90 ${l.p90} ms · p99 ${l.p99} ms · p99.9 ${l.p999} ms · max ${l.max} ms`,
  ];
  if (Object.keys(r.failures).length) lines.push(`no answer  ${Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join(", ")}`);
  const v = r.verification;
  if (v) {
    lines.push(`traces     expected ${v.expected}, found ${v.found}, complete ${v.complete} (${(v.complete_ratio * 100).toFixed(2)}%) after ${v.waited_s.toFixed(1)}s in Jaeger`);
    for (const x of v.incomplete_examples || []) lines.push(`           incomplete: ${x}`);
  }
  for (const g of r.gates) lines.push(`gate       ${g.name} limit ${g.limit}: ${g.actual} ${g.passed ? "passed" : "FAILED"}`);
  lines.push(`result     ${r.passed ? "PASSED" : "FAILED"}`);
  return lines.join("\n");
}
function followRun(id) {
  points = [];
  $("load-live").hidden = false; $("load-report").hidden = true; $("load-check").textContent = "";
  const source = new EventSource(`/api/load/${id}/events`);
  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    if (p.event === "load") {
      points.push({ t: p.elapsed, rps: p.current_rps, p99: p.p99 });
      $("load-figures").replaceChildren(
        figure("sent", p.finished), figure("rps now", p.current_rps.toFixed(0)),
        figure("errors", p.errors), figure("p99 ms", p.p99), figure("connections", p.connections),
        figure("elapsed", `${(p.elapsed / 1000).toFixed(0)} / ${(p.duration / 1000).toFixed(0)} s`));
      drawChart();
    } else if (p.event === "checking") {
      $("load-check").textContent = p.message;
    } else if (p.event === "warning") {
      $("load-check").textContent = p.text;
    }
  });
  const end = () => { source.close(); $("load-start").disabled = false; refreshRuns(); };
  source.addEventListener("report", (e) => {
    const r = JSON.parse(e.data);
    $("load-report").textContent = reportText(r);
    $("load-report").className = r.passed ? "good" : "bad";
    $("load-report").hidden = false;
    $("load-report").dataset.report = e.data;
    end();
  });
  source.addEventListener("failure", (e) => { $("load-error").textContent = JSON.parse(e.data).error; end(); });
}
$("load-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target), form = { rps: Number(f.get("rps")), duration: f.get("duration") };
  if (f.get("url")) form.url = f.get("url");
  if (f.get("mix")) form.mix = f.get("mix");
  if (f.get("verify")) form.verify = f.get("verify") === "true";
  $("load-error").textContent = "";
  $("load-start").disabled = true;
  const answer = await post("/api/load", form);
  const body = await answer.json();
  if (!answer.ok) { $("load-error").textContent = body.error; $("load-start").disabled = false; return; }
  followRun(body.id);
});
async function refreshRuns() {
  const answer = await fetch("/api/load", { credentials: "same-origin" });
  if (!answer.ok) return;
  const runs = await answer.json();
  $("runs").tBodies[0].replaceChildren(...runs.map((r) => {
    const rep = r.report || {}, v = rep.verification;
    const verdict = el("span", { class: r.state === "passed" ? "good" : r.state === "running" ? "warn" : "bad" }, r.error ? `error: ${r.error}` : r.state);
    return el("tr", { "data-run": r.id, "data-state": r.state },
      el("td", {}, r.id), el("td", {}, new Date(r.started_ms).toLocaleTimeString()),
      el("td", {}, rep.target || r.form.url || "demo"), el("td", {}, verdict),
      el("td", {}, rep.requests ?? "-"), el("td", {}, rep.achieved_rps == null ? "-" : rep.achieved_rps.toFixed(1)),
      el("td", {}, rep.latency_ms ? rep.latency_ms.p99 : "-"),
      el("td", {}, v ? `${v.complete} / ${v.expected}` : "-"));
  }));
}

// ---- doctor ------------------------------------------------------------------
$("doctor-run").addEventListener("click", async () => {
  const button = $("doctor-run");
  button.disabled = true;
  $("doctor-verdict").textContent = "checking every hop…";
  $("doctor-verdict").className = "";
  const answer = await post("/api/doctor");
  const report = await answer.json();
  button.disabled = false;
  if (!answer.ok) { $("doctor-verdict").textContent = report.error; $("doctor-verdict").className = "bad"; return; }
  $("hops").replaceChildren(...report.hops.map((h) => {
    const mark = h.verdict === "ok" ? ["good", "ok"] : h.verdict === "broken" ? ["bad", "BROKEN"] : ["warn", "?"];
    const item = el("li", { "data-hop": h.name, "data-verdict": h.verdict },
      el("b", { class: mark[0] }, mark[1]), " ", el("b", {}, h.name), ": ", el("span", { class: "detail" }, h.detail));
    if (h.fix && h.verdict !== "ok") item.append(el("div", {}, "fix: ", h.fix));
    return item;
  }));
  $("doctor-verdict").textContent = report.healthy ? "telemetry flows end to end" : `the first broken hop: ${report.first_broken}`;
  $("doctor-verdict").className = report.healthy ? "good" : "bad";
});

connectStack();
show();

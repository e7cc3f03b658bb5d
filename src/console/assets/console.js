// The obsdemo console. No framework: the page is four views over the console's API,
// kept live by server-sent events. Every text from the stack goes in by textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    // Styles through the CSSOM: a style attribute would be inline style, which the
    // Content-Security-Policy refuses.
    if (k === "class") node.className = v; else if (k === "style") Object.assign(node.style, v); else node.setAttribute(k, v);
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
const pages = ["stack", "logs", "load", "traces", "metrics", "doctor"];
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
  if (current === "traces") showTraces(arg);
  metricsVisible(current === "metrics");
}
window.addEventListener("hashchange", show);

// ---- stack -------------------------------------------------------------------
let names = [];
let jaegerUi = null;
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
  jaegerUi = report.components.find((c) => c.name === "jaeger")?.ui || null;
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
    const action = (verb, label) => {
      const b = el("button", { type: "button", "data-action": verb, "data-for": c.name }, label);
      b.addEventListener("click", () => act(verb, c.name, b));
      actions.append(b, " ");
    };
    if (c.state !== "disabled" && c.pid) action("restart", "Restart");
    // The console does not offer to stop itself: nothing would be left to start it.
    if (c.state !== "disabled" && c.pid && c.name !== "console") action("stop", "Stop");
    if (c.state === "stopped" && (c.last_exit || "").endsWith("(stopped on request)")) action("start", "Start");
    return el("tr", { "data-name": c.name, "data-state": c.state, "data-healthy": String(c.healthy), "data-pid": String(c.pid ?? ""), "data-restarts": String(c.restarts) },
      el("td", {}, c.name), el("td", {}, c.version ?? ""), el("td", {}, stateCell(c)), el("td", {}, health),
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
async function act(verb, name, button) {
  button.disabled = true;
  const answer = await post(`/api/components/${encodeURIComponent(name)}/${verb}`);
  if (!answer.ok) $("live").textContent = (await answer.json()).error || answer.statusText;
  button.disabled = false;
}
function connectStack() {
  const source = new EventSource("/api/stack/events");
  source.addEventListener("status", (e) => {
    renderStack(JSON.parse(e.data));
    $("live").textContent = "live · " + new Date().toLocaleTimeString();
    $("live").className = "live good";
  });
  source.addEventListener("failure", (e) => { $("live").textContent = JSON.parse(e.data).error; $("live").className = "live bad"; });
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
  line("p50", lMax * 1.1, style.getPropertyValue("--good"));
  g.fillStyle = style.getPropertyValue("--muted"); g.font = "12px system-ui";
  g.fillText(`rps (blue) up to ${rMax.toFixed(0)} · p99 (amber) and p50 (green), up to ${lMax.toFixed(1)} ms · ${(tMax / 1000).toFixed(0)} s`, 44, 14);
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
      points.push({ t: p.elapsed, rps: p.current_rps, p50: p.p50, p99: p.p99 });
      $("load-figures").replaceChildren(
        figure("sent", p.finished), figure("rps now", p.current_rps.toFixed(0)),
        figure("p50 ms", p.p50.toFixed(1)), figure("p90 ms", p.p90.toFixed(1)), figure("p99 ms", p.p99.toFixed(1)),
        figure("errors", p.errors), figure("connections", p.connections),
        figure("elapsed", `${(p.elapsed / 1000).toFixed(0)} / ${(p.duration / 1000).toFixed(0)} s`));
      const kinds = Object.entries(p.errors_by_kind || {});
      $("load-errors").textContent = kinds.length ? "errors by kind: " + kinds.map(([k, n]) => `${k} ${n}`).join(" · ") : "";
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
    const v = r.verification;
    $("load-check").textContent = v ? `${v.complete} of ${v.expected} traces complete in Jaeger` : "";
    const links = [];
    {
      const slow = el("a", { href: "#traces", "data-slowest": "1" }, `the run's slowest traces (p99 and above, ${r.latency_ms.p99} ms)`);
      slow.addEventListener("click", () => setTimeout(() => {
        const form = $("trace-form");
        form.elements.minDuration.value = Math.max(1, Math.floor(r.latency_ms.p99)) + "ms";
        form.elements.lookback.value = "900";
        runSearch();
      }, 0));
      links.push(slow);
    }
    for (const example of (r.verification?.incomplete_examples || [])) {
      const id = example.slice(0, 32);
      links.push(" · ", el("a", { href: "#traces/" + id }, "incomplete trace " + id.slice(0, 12)));
    }
    $("load-links").replaceChildren(...links);
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

// ---- traces ------------------------------------------------------------------
// Each service keeps one colour for the session, from hues far apart.
const HUES = [140, 215, 300, 30, 180, 0, 260, 60, 100, 330];
const hues = new Map();
const colour = (name) => {
  if (!hues.has(name)) hues.set(name, HUES[hues.size % HUES.length] + 7 * Math.floor(hues.size / HUES.length));
  return `hsl(${hues.get(name)} 62% 48%)`;
};
const ms = (us) => us >= 1000 ? (us / 1000).toFixed(us >= 100000 ? 0 : 1) + " ms" : us + " µs";
const tagValue = (span, key) => (span.tags || []).find((t) => t.key === key)?.value;
const isError = (span) => { const e = tagValue(span, "error"); return e === true || e === "true" || tagValue(span, "otel.status_code") === "ERROR"; };
let servicesLoaded = false;
async function getJson(url) {
  const answer = await fetch(url, { credentials: "same-origin" });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error || answer.statusText);
  return body;
}
async function loadServices() {
  const body = await getJson("/api/traces/services");
  const names = (body.data || []).sort();
  const select = $("trace-service"), chosen = select.value;
  select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  if (names.includes(chosen)) select.value = chosen;
  else if (names.includes("Order-service")) select.value = "Order-service";
  servicesLoaded = true;
  await loadOperations();
}
async function loadOperations() {
  const service = $("trace-service").value;
  if (!service) return;
  const body = await getJson(`/api/traces/services/${encodeURIComponent(service)}/operations`);
  $("trace-operation").replaceChildren(el("option", { value: "" }, "all"), ...(body.data || []).sort().map((o) => el("option", { value: o }, o)));
}
$("trace-service").addEventListener("change", () => loadOperations().catch((e) => { $("trace-error").textContent = e.message; }));
function searchQuery(form) {
  const f = new FormData(form), q = new URLSearchParams();
  q.set("service", f.get("service") || "");
  if (f.get("operation")) q.set("operation", f.get("operation"));
  const tags = {};
  for (const pair of String(f.get("tags") || "").split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at > 0) tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (f.get("errors")) tags.error = "true";
  if (Object.keys(tags).length) q.set("tags", JSON.stringify(tags));
  for (const k of ["minDuration", "maxDuration"]) if (f.get(k)) q.set(k, f.get(k));
  const end = Date.now() * 1000;
  q.set("end", String(end));
  q.set("start", String(end - Number(f.get("lookback")) * 1e6));
  q.set("limit", f.get("limit") || "20");
  return q;
}
function traceSummary(t) {
  const starts = t.spans.map((s) => s.startTime), ends = t.spans.map((s) => s.startTime + s.duration);
  const start = Math.min(...starts), end = Math.max(...ends);
  const ids = new Set(t.spans.map((s) => s.spanID));
  const root = t.spans.find((s) => !(s.references || []).some((r) => r.refType === "CHILD_OF" && ids.has(r.spanID))) || t.spans[0];
  const services = [...new Set(t.spans.map((s) => t.processes[s.processID]?.serviceName || "?"))];
  return { start, duration: end - start, root, services, errors: t.spans.filter(isError).length };
}
async function runSearch() {
  $("trace-error").textContent = "";
  try {
    const body = await getJson("/api/traces?" + searchQuery($("trace-form")).toString());
    const traces = (body.data || []).map((t) => ({ t, s: traceSummary(t) })).sort((a, b) => b.s.start - a.s.start);
    $("trace-results").tBodies[0].replaceChildren(...traces.map(({ t, s }) => {
      const row = el("tr", { tabindex: "0", "data-trace": t.traceID },
        el("td", {}, el("a", { href: "#traces/" + t.traceID }, t.traceID.slice(0, 12))),
        el("td", {}, `${t.processes[s.root.processID]?.serviceName}: ${s.root.operationName}`),
        el("td", {}, new Date(s.start / 1000).toLocaleTimeString()), el("td", {}, ms(s.duration)),
        el("td", {}, t.spans.length), el("td", {}, s.services.join(", ")),
        el("td", { class: s.errors ? "bad" : "" }, s.errors));
      const open = () => { location.hash = "traces/" + t.traceID; };
      row.addEventListener("click", open);
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      return row;
    }));
    if (!traces.length) $("trace-error").textContent = "no trace matches";
  } catch (e) { $("trace-error").textContent = e.message; }
}
$("trace-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (location.hash !== "#traces") location.hash = "traces";
  runSearch();
});
function spanDetail(span, trace) {
  const rows = (items) => el("table", {}, ...items.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))));
  const detail = el("div", { class: "span-detail" });
  const process = trace.processes[span.processID] || { tags: [] };
  detail.append(el("b", {}, "span " + span.spanID), ` · start +${ms(span.startTime - trace.start)} · ${ms(span.duration)}`,
    el("h4", {}, "Attributes"), rows((span.tags || []).map((t) => [t.key, t.value])),
    el("h4", {}, "Resource"), rows((process.tags || []).map((t) => [t.key, t.value]).concat([["service.name", process.serviceName]])));
  if ((span.logs || []).length) {
    detail.append(el("h4", {}, "Events"), rows(span.logs.map((l) => [`+${ms(l.timestamp - span.startTime)}`, (l.fields || []).map((f) => `${f.key}=${f.value}`).join(" ")])));
  }
  const links = (span.references || []).filter((r) => r.refType !== "CHILD_OF" || r.traceID !== span.traceID);
  if (links.length) detail.append(el("h4", {}, "Links"), rows(links.map((r) => [r.refType, `${r.traceID} / ${r.spanID}`])));
  return detail;
}
function renderTrace(t) {
  const started = performance.now();
  const s = traceSummary(t), byId = new Map(t.spans.map((x) => [x.spanID, x]));
  t.start = s.start;
  const children = new Map(), roots = [];
  for (const span of t.spans) {
    const parent = (span.references || []).find((r) => r.refType === "CHILD_OF" && r.traceID === span.traceID);
    if (parent && byId.has(parent.spanID)) {
      if (!children.has(parent.spanID)) children.set(parent.spanID, []);
      children.get(parent.spanID).push(span);
    } else roots.push({ span, missing: parent ? parent.spanID : null });
  }
  const ordered = [];
  const walk = (span, depth, missing) => {
    ordered.push({ span, depth, missing });
    for (const c of (children.get(span.spanID) || []).sort((a, b) => a.startTime - b.startTime)) walk(c, depth + 1, null);
  };
  roots.sort((a, b) => a.span.startTime - b.span.startTime).forEach((r) => walk(r.span, 0, r.missing));
  const total = Math.max(1, s.duration), fragment = document.createDocumentFragment();
  for (const { span, depth, missing } of ordered) {
    const service = t.processes[span.processID]?.serviceName || "?";
    const parent = (span.references || []).find((r) => r.refType === "CHILD_OF");
    const up = parent && byId.get(parent.spanID);
    const skew = up && (span.startTime < up.startTime || span.startTime + span.duration > up.startTime + up.duration);
    const label = el("div", { class: "span-label", style: { paddingLeft: `${8 + depth * 14}px` } },
      el("span", { class: "dot", style: { background: colour(service) } }), `${service}: ${span.operationName}`);
    if (missing) label.append(el("span", { class: "mark", title: `parent ${missing} is not in this trace` }, "missing parent"));
    if (skew) label.append(el("span", { class: "mark", title: "this span lies outside its parent: clocks may differ" }, "clock skew?"));
    const left = ((span.startTime - s.start) / total) * 100, width = (span.duration / total) * 100;
    const bar = el("div", { class: "span-bar" + (isError(span) ? " error" : ""), style: { left: `${left}%`, width: `${width}%`, background: colour(service) } });
    const time = el("span", { class: "span-time", style: { left: `${Math.min(left + width, 88)}%` } }, " " + ms(span.duration));
    const row = el("div", { class: "span-row", role: "treeitem", tabindex: "0", "data-span": span.spanID, "data-service": service, "data-depth": String(depth) },
      label, el("div", { class: "span-track" }, bar, time));
    const toggle = () => {
      const open = row.querySelector(".span-detail");
      if (open) open.remove(); else row.append(spanDetail(span, t));
    };
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    fragment.append(row);
  }
  $("waterfall").replaceChildren(fragment);
  $("trace-title").textContent = `${t.processes[s.root.processID]?.serviceName}: ${s.root.operationName}`;
  const meta = [`trace ${t.traceID}`, `${t.spans.length} spans`, ms(s.duration), s.services.join(", ")];
  $("trace-meta").replaceChildren(el("a", { href: "#traces" }, "← results"), " · ", meta.join(" · "), " ");
  if (jaegerUi) $("trace-meta").append(el("a", { href: `${jaegerUi.replace(/\/$/, "")}/trace/${t.traceID}`, target: "_blank", rel: "noopener" }, "open in Jaeger's UI"));
  $("trace-view").hidden = false;
  // Measured to the frame after: the drawing, its layout and its paint.
  delete $("waterfall").dataset.renderMs;
  requestAnimationFrame(() => setTimeout(() => { $("waterfall").dataset.renderMs = (performance.now() - started).toFixed(1); }, 0));
}
async function showTraces(id) {
  try {
    if (!servicesLoaded) await loadServices();
    if (id) {
      const body = await getJson(`/api/traces/${encodeURIComponent(id)}`);
      if (!(body.data || []).length) throw new Error(`trace ${id} is not in Jaeger (yet)`);
      renderTrace(body.data[0]);
      $("trace-results").hidden = true;
      $("trace-view").scrollIntoView();
    } else {
      $("trace-view").hidden = true;
      $("trace-results").hidden = false;
    }
  } catch (e) { $("trace-error").textContent = e.message; }
}

// ---- metrics -----------------------------------------------------------------
let dashboard = null, metricsTimer = null;
const SERIES = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#64748b"];
function fmt(unit, v) {
  if (v == null || !isFinite(v)) return "-";
  const scaled = (v, base, names) => { let i = 0; while (Math.abs(v) >= base && i < names.length - 1) { v /= base; i++; } return `${v.toFixed(v < 10 && i ? 1 : 0)} ${names[i]}`; };
  switch (unit) {
    case "percentunit": return (v * 100).toFixed(1) + "%";
    case "bytes": return scaled(v, 1024, ["B", "KiB", "MiB", "GiB", "TiB"]);
    case "Bps": return scaled(v, 1024, ["B/s", "KiB/s", "MiB/s", "GiB/s"]);
    case "ops": return v.toFixed(v < 10 ? 2 : 0) + "/s";
    case "reqps": return v.toFixed(v < 10 ? 2 : 0) + " req/s";
    case "ms": return v.toFixed(v < 10 ? 2 : 1) + " ms";
    case "iops": return v.toFixed(v < 10 ? 2 : 0) + " io/s";
    case "pps": return v.toFixed(v < 10 ? 2 : 0) + " p/s";
    default: return Math.abs(v) >= 1000 ? scaled(v, 1000, ["", "k", "M", "G"]) : v.toFixed(v % 1 ? 2 : 0);
  }
}
// Grafana's legend format: {{label}} replaced by the series' label.
const legendOf = (format, metric) => format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? "");
// What Grafana's variables become here: every host, and a rate window of at least four
// scrapes (Grafana's $__rate_interval rule).
function promql(expr, step) {
  const window = Math.max(4 * dashboard.scrape_interval_s, step + dashboard.scrape_interval_s);
  return expr.replace(/\$host/g, ".*").replace(/\$__rate_interval/g, `${Math.ceil(window)}s`);
}
async function panelSeries(panel, start, end, step) {
  const out = [];
  for (const t of panel.targets) {
    const q = new URLSearchParams({ query: promql(t.expr, step), start, end, step });
    const body = await getJson("/api/metrics/query_range?" + q.toString());
    for (const r of body.data?.result || []) {
      // A quantile of an empty window is NaN: no point, not a zero.
      const points = r.values.map(([x, y]) => [x, Number(y)]).filter(([, y]) => Number.isFinite(y));
      out.push({ name: legendOf(t.legend, r.metric) || t.legend, points });
    }
  }
  return out;
}
function drawSeries(canvas, panel, series, start, end) {
  const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth || 400, h = 170;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext("2d"); g.scale(ratio, ratio);
  const style = getComputedStyle(document.body), left = 58, bottom = 16;
  let stacked = series;
  if (panel.stack) {
    const sums = new Map();
    stacked = series.map((s) => ({ ...s, points: s.points.map(([x, y]) => { const base = sums.get(x) || 0; sums.set(x, base + y); return [x, base + y]; }) }));
  }
  const ys = stacked.flatMap((s) => s.points.map((p) => p[1]));
  const top = panel.max != null ? Number(panel.max) : Math.max(...ys, 0) * 1.1 || 1;
  const X = (x) => left + ((x - start) / (end - start)) * (w - left - 6), Y = (y) => h - bottom - (y / top) * (h - bottom - 6);
  g.strokeStyle = style.getPropertyValue("--line"); g.fillStyle = style.getPropertyValue("--muted"); g.font = "10px system-ui";
  for (const f of [0, 0.5, 1]) { const y = Y(top * f); g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke(); g.fillText(fmt(panel.unit, top * f), 2, y + 3); }
  g.fillText(new Date(start * 1000).toLocaleTimeString(), left, h - 3);
  g.fillText(new Date(end * 1000).toLocaleTimeString(), w - 60, h - 3);
  if (panel.thresholds) {
    const [orange, red] = panel.thresholds.map(Number);
    for (const [v, c] of [[orange, "--warn"], [red, "--bad"]]) {
      if (v > top) continue;
      g.setLineDash([4, 4]); g.strokeStyle = style.getPropertyValue(c);
      g.beginPath(); g.moveTo(left, Y(v)); g.lineTo(w, Y(v)); g.stroke(); g.setLineDash([]);
    }
  }
  stacked.forEach((s, i) => {
    g.strokeStyle = SERIES[i % SERIES.length]; g.lineWidth = 1.5; g.beginPath();
    s.points.forEach(([x, y], j) => (j ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
    g.stroke();
  });
}
async function drawPanel(box, panel, start, end, step) {
  const series = await panelSeries(panel, start, end, step);
  const points = series.reduce((n, s) => n + s.points.length, 0);
  box.dataset.points = String(points);
  const body = box.querySelector(".body");
  const last = (s) => s.points.length ? s.points[s.points.length - 1][1] : null;
  if (panel.kind === "timeseries") {
    const canvas = el("canvas", { role: "img", "aria-label": panel.title });
    body.replaceChildren(canvas, el("div", { class: "legend" }, ...series.map((s, i) => el("span", {}, el("i", { style: { background: SERIES[i % SERIES.length] } }), `${s.name} ${fmt(panel.unit, last(s))}`))));
    drawSeries(canvas, panel, series, start, end);
  } else if (panel.kind === "bargauge") {
    const max = panel.max != null ? Number(panel.max) : Math.max(...series.map(last), 1);
    body.replaceChildren(el("div", { class: "bars" }, ...series.map((s, i) => el("div", {}, el("span", {}, s.name),
      el("span", { class: "track" }, el("span", { class: "fill", style: { width: `${Math.min(100, (last(s) / max) * 100)}%`, background: SERIES[i % SERIES.length] } })),
      el("span", {}, fmt(panel.unit, last(s)))))));
  } else {
    const v = series.length ? last(series[0]) : null;
    const [a, b] = (panel.thresholds || []).map(Number);
    const level = b != null && v >= b ? "bad" : a != null && v >= a ? "warn" : "good";
    body.replaceChildren(el("div", { class: "big " + level }, fmt(panel.unit, v)));
  }
}
// Each refresh has a number; one that a newer one overtook (a dashboard switched while
// it drew) writes nothing more.
let metricsGeneration = 0;
async function refreshMetrics() {
  const generation = ++metricsGeneration;
  try {
    $("metrics-error").textContent = "";
    if (!$("metrics-dashboard").options.length) {
      const list = await getJson("/api/metrics/dashboards");
      $("metrics-dashboard").replaceChildren(...list.map((d) => el("option", { value: d.name }, d.title)));
    }
    if (!dashboard) {
      const chosen = await getJson("/api/metrics/dashboard?name=" + encodeURIComponent($("metrics-dashboard").value || "system"));
      if (generation !== metricsGeneration) return;
      dashboard = chosen;
      $("panels").dataset.dashboard = $("metrics-dashboard").value;
      delete $("panels").dataset.drawn;
      $("panels").replaceChildren(...dashboard.panels.map((p) => {
        if (p.kind === "row") return el("div", { class: "panel-row" }, p.title);
        const [, , w] = p.grid;
        const box = el("div", { class: "panel", "data-panel": p.title, style: { gridColumn: `span ${w}` } }, el("h4", { title: p.description }, p.title), el("div", { class: "body" }, "…"));
        box.panel = p;
        return box;
      }));
    }
    const end = Math.floor(Date.now() / 1000), span = Number($("metrics-window").value), start = end - span;
    const step = Math.max(Math.ceil(span / 240), Math.ceil(dashboard.scrape_interval_s));
    await Promise.all([...document.querySelectorAll("#panels .panel")].map((box) => drawPanel(box, box.panel, start, end, step)));
    if (generation !== metricsGeneration) return;
    $("metrics-updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("panels").dataset.drawn = String(Date.now());
  } catch (e) { $("metrics-error").textContent = e.message; }
}
function metricsVisible(visible) {
  clearInterval(metricsTimer); metricsTimer = null;
  if (!visible) return;
  refreshMetrics();
  metricsTimer = setInterval(() => { if ($("metrics-live").checked && !document.hidden) refreshMetrics(); }, 10000);
}
$("metrics-window").addEventListener("change", refreshMetrics);
$("metrics-dashboard").addEventListener("change", () => { dashboard = null; refreshMetrics(); });

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

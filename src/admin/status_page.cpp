#include "eventserver/admin/status_page.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <nlohmann/json.hpp>

namespace eventserver {

namespace {

// The page: HTML, CSS and script in one document, so it needs nothing but this binary. The
// script opens /events and draws each snapshot; every value it puts into the document goes
// through textContent (never innerHTML): a warning can quote a peer's bytes. Elements the
// browser test reads have stable ids (events-per-s, events-processed, next-expected,
// connections, ...). Under a token the page was opened as /?token=..., and the script passes
// the token on to /events and /static/chart.js, the two requests it makes.
constexpr std::string_view page = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>eventserver status</title>
<style>
:root {
  --bg: #f4f5f7; --card: #fff; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --blue: #2563eb; --violet: #7c3aed; --green: #059669; --amber: #d97706; --red: #dc2626;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { display: flex; align-items: baseline; gap: 20px; padding: 12px 24px; background: #111827; color: #f9fafb; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; letter-spacing: .01em; }
header .meta { color: #9ca3af; font-size: 13px; font-variant-numeric: tabular-nums; }
header .meta b { color: #e5e7eb; font-weight: 500; }
#state { margin-left: auto; font-size: 13px; color: #d1d5db; }
#state::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%;
  background: #6b7280; margin-right: 7px; vertical-align: 0; }
#state.live::before { background: #22c55e; }
#state.down::before { background: #ef4444; }
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px 28px; }
.cards, .charts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; }
@media (max-width: 1000px) { .cards, .charts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media (max-width: 560px) { .cards, .charts { grid-template-columns: minmax(0, 1fr); } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 11px 14px 12px; min-width: 0; }
.card.alert { border-color: var(--amber); box-shadow: inset 3px 0 0 var(--amber); }
.label { color: var(--muted); font-size: 11.5px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; }
.value { font-size: 26px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.value small { font-size: 14px; font-weight: 500; color: var(--muted); }
.sub { color: var(--muted); font-size: 12.5px; margin-top: 3px; font-variant-numeric: tabular-nums;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[hidden] { display: none !important; }
.sub b { color: var(--ink); font-weight: 500; }
.bar { height: 5px; background: var(--line); border-radius: 3px; margin-top: 7px; overflow: hidden; }
.bar div { height: 100%; width: 0; background: var(--amber); }
.charts { margin-top: 12px; }
.plot { position: relative; height: 130px; margin-top: 6px; }
.plot canvas { position: absolute; inset: 0; width: 100%; height: 100%; }
.tables { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; margin-top: 12px; }
@media (max-width: 900px) { .tables { grid-template-columns: 1fr; } }
h2 { margin: 0 0 8px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-top: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-size: 11.5px; font-weight: 600; border-top: 0; }
td { font-size: 13px; }
.num { text-align: right; }
td.message { white-space: normal; word-break: break-word; }
td.empty { color: var(--muted); font-style: italic; }
.level-warning { color: var(--amber); font-weight: 600; }
.level-error, .level-critical { color: var(--red); font-weight: 600; }
footer { color: var(--muted); font-size: 12px; margin-top: 14px; }
.note { margin: 12px 0 0; padding: 8px 14px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>eventserver</h1>
  <span class="meta">admin <b id="origin">–</b></span>
  <span class="meta">up <b id="uptime">–</b></span>
  <span class="meta">updated <b id="updated">–</b></span>
  <span id="state">connecting…</span>
</header>
<main>
  <section class="cards">
    <div class="card">
      <div class="label">Events / s</div>
      <div class="value" id="events-per-s">–</div>
      <div class="sub"><b id="events-processed">–</b> processed</div>
      <div class="sub"><b id="event-sources">–</b> <span id="event-sources-label">event sources connected</span></div>
    </div>
    <div class="card">
      <div class="label">Notifications / s</div>
      <div class="value" id="notifications-per-s">–</div>
      <div class="sub"><b id="notifications-delivered">–</b> delivered</div>
      <div class="sub"><b id="notifications-dropped">–</b> dropped (user offline)</div>
    </div>
    <div class="card">
      <div class="label">Connections</div>
      <div class="value" id="connections">–</div>
      <div class="sub">TCP <b id="tcp-connections">–</b> · WebSocket <b id="ws-connections">–</b></div>
      <div class="sub"><b id="connected-users">–</b> distinct users</div>
    </div>
    <div class="card" id="sequence-card">
      <div class="label">Awaited sequence number</div>
      <div class="value" id="next-expected">–</div>
      <div class="sub">highest accepted <b id="head">–</b></div>
      <div class="sub" id="gap-on" hidden>held back by a gap for <b id="gap-age">–</b></div>
      <div class="sub" id="gap-off">no gap: nothing held back</div>
    </div>
    <div class="card">
      <div class="label">Reorder window</div>
      <div class="value" id="window-fill">–</div>
      <div class="sub"><b id="window-pending">–</b> of <b id="window-capacity">–</b> events held</div>
      <div class="bar"><div id="window-bar"></div></div>
    </div>
    <div class="card" id="log-card">
      <div class="label">Event log</div>
      <div class="value" id="log-state">–</div>
      <div class="sub" id="log-on" hidden>durable to <b id="log-durable">–</b> · <b id="log-segments">–</b> segments</div>
      <div class="sub" id="log-off" hidden>no dataDir: events are not kept</div>
      <div class="sub" id="log-failing" hidden></div>
      <div class="sub">stream epoch <b id="log-epoch">–</b></div>
    </div>
    <div class="card">
      <div class="label">Throughput</div>
      <div class="value" id="bytes-out-per-s">–</div>
      <div class="sub">out to clients</div>
      <div class="sub"><b id="bytes-in-per-s">–</b> in from event sources</div>
    </div>
    <div class="card">
      <div class="label">Client queues</div>
      <div class="value" id="queued-bytes">–</div>
      <div class="sub">queued for all clients · <b id="follow-edges">–</b> follow edges</div>
      <div class="sub"><b id="admin-unauthorized">–</b> admin requests refused (token)</div>
    </div>
  </section>

  <section class="charts">
    <div class="card"><div class="label">Events / s</div><div class="plot"><canvas id="chart-events"></canvas></div></div>
    <div class="card"><div class="label">Notifications / s</div><div class="plot"><canvas id="chart-notifications"></canvas></div></div>
    <div class="card"><div class="label">Connections</div><div class="plot"><canvas id="chart-connections"></canvas></div></div>
    <div class="card"><div class="label">Reorder window fill %</div><div class="plot"><canvas id="chart-window"></canvas></div></div>
    <div class="card"><div class="label">Arrival to client socket, p99 ms</div><div class="sub">p50 <b id="delivery-p50">–</b> · p99 <b id="delivery-p99">–</b></div><div class="plot"><canvas id="chart-delivery-latency"></canvas></div></div>
    <div class="card"><div class="label">Arrival to event log, p99 ms</div><div class="sub">p50 <b id="durable-p50">–</b> · p99 <b id="durable-p99">–</b></div><div class="plot"><canvas id="chart-durable-latency"></canvas></div></div>
  </section>
  <p class="note" id="chart-note" hidden>Chart.js is not installed where the daemon runs, so these charts are
    drawn plainly: install the Debian package <code>libjs-chart.js</code> for the full ones.</p>

  <section class="tables">
    <div class="card">
      <h2 class="label">Clients most behind</h2>
      <table>
        <thead><tr><th class="num">User</th><th>Remote</th><th>Transport</th><th>Mode</th><th class="num">Behind</th><th class="num">Queued</th></tr></thead>
        <tbody id="most-behind"><tr><td class="empty" colspan="6">waiting for data…</td></tr></tbody>
      </table>
    </div>
    <div class="card">
      <h2 class="label">Recent warnings</h2>
      <table>
        <thead><tr><th>Time</th><th>Level</th><th>Message</th></tr></thead>
        <tbody id="warnings"><tr><td class="empty" colspan="3">waiting for data…</td></tr></tbody>
      </table>
    </div>
  </section>
  <footer>Live from <code>/events</code>, once a second; the last two minutes are charted
    (<span id="chart-source">plain canvas</span>). <span id="updates">0</span> updates received.</footer>
</main>
<script>
"use strict";
(() => {
  const HISTORY = 120;  // chart points: one a second
  // The token goes on to /events and /static/chart.js exactly as it came in the page's own
  // URL, still percent-encoded: the daemon decodes all three requests alike (admin_auth.hpp;
  // '+' stays '+'). Decoding it here and encoding it again would not give the same bytes:
  // URLSearchParams turns the '+' of a base64 token into a space.
  const rawToken = (/(?:^|[?&])token=([^&]*)/.exec(location.search) || [])[1];
  const withToken = (path) => (rawToken ? path + "?token=" + rawToken : path);
  const el = (id) => document.getElementById(id);
  // The only way data reaches the document: as text.
  const show = (id, text) => { const node = el(id); if (node) node.textContent = text; };

  const integer = (n) => (typeof n !== "number" || !Number.isFinite(n))
    ? "–" : Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const perSecondText = (n) => (n == null ? "–" : n < 10 ? n.toFixed(1) : integer(n));
  const bytes = (n) => {
    if (typeof n !== "number" || !Number.isFinite(n)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
  };
  const compact = (n) => {
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
    return String(Math.round(n * 10) / 10);
  };
  // The smallest round number (1, 1.2, 1.5, 2, ... 8 times a power of ten) at least n: axis labels.
  const niceCeil = (n) => {
    const power = Math.pow(10, Math.floor(Math.log10(n)));
    for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= n) return step * power;
    return 10 * power;
  };
  const duration = (seconds) => {
    const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), r = s % 60;
    return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m ${r}s` : m ? `${m}m ${r}s` : `${r}s`;
  };
  const clock = (ms) => {
    const t = new Date(ms);
    return [t.getHours(), t.getMinutes(), t.getSeconds()].map((v) => String(v).padStart(2, "0")).join(":");
  };

  // ---- charts: Chart.js when /static/chart.js loads, plain canvas until then or without it
  const labels = [];
  const series = [
    { key: "events", canvas: "chart-events", color: "#2563eb", data: [] },
    { key: "notifications", canvas: "chart-notifications", color: "#7c3aed", data: [] },
    { key: "connections", canvas: "chart-connections", color: "#059669", data: [] },
    { key: "window", canvas: "chart-window", color: "#d97706", data: [], max: 100 },
    { key: "delivery", canvas: "chart-delivery-latency", color: "#dc2626", data: [] },
    { key: "durable", canvas: "chart-durable-latency", color: "#0891b2", data: [] },
  ];
  let charts = null;

  function drawPlain(s) {
    const canvas = el(s.canvas);
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const values = s.data.filter((v) => typeof v === "number");
    const top = s.max || niceCeil(Math.max(1, ...values) * 1.1);
    const left = 36, bottom = h - 16, height = h - 26;
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#eef0f3";
    ctx.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      const y = Math.round(bottom - f * height) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(compact(top * f), 2, y + 3);
    }
    ctx.fillText("2 min ago", left, h - 3);
    ctx.textAlign = "right";
    ctx.fillText("now", w, h - 3);
    ctx.textAlign = "left";
    const n = s.data.length;
    if (n < 2) return;
    const x = (i) => left + (i + HISTORY - n) / (HISTORY - 1) * (w - left);
    const y = (v) => bottom - Math.min(v / top, 1) * height;
    ctx.beginPath();
    let started = false, first = 0, last = 0;
    s.data.forEach((v, i) => {
      if (typeof v !== "number") return;
      if (!started) { ctx.moveTo(x(i), y(v)); first = i; started = true; } else ctx.lineTo(x(i), y(v));
      last = i;
    });
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.stroke();
    ctx.lineTo(x(last), bottom); ctx.lineTo(x(first), bottom); ctx.closePath();
    ctx.globalAlpha = 0.12; ctx.fillStyle = s.color; ctx.fill(); ctx.globalAlpha = 1;
  }

  function makeCharts() {
    return series.map((s) => new window.Chart(el(s.canvas), {
      type: "line",
      data: { labels, datasets: [{ data: s.data, borderColor: s.color, backgroundColor: s.color + "1f", fill: true,
        pointRadius: 0, borderWidth: 1.5, tension: 0.25, spanGaps: true }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: false } },
        scales: {
          x: { grid: { display: false }, ticks: { maxTicksLimit: 5, maxRotation: 0, color: "#6b7280", font: { size: 10 } } },
          y: { beginAtZero: true, max: s.max, grid: { color: "#eef0f3" },
            ticks: { maxTicksLimit: 4, color: "#6b7280", font: { size: 10 }, callback: (v) => compact(v) } },
        },
      },
    }));
  }

  function redraw() {
    if (charts) charts.forEach((c) => c.update("none"));
    else series.forEach(drawPlain);
  }
  window.addEventListener("resize", () => { if (!charts) redraw(); });

  const chartScript = document.createElement("script");
  chartScript.src = withToken("/static/chart.js");
  chartScript.onload = () => {
    try {
      charts = makeCharts();
      show("chart-source", "Chart.js from the system's libjs-chart.js");
    } catch (e) {
      charts = null;
    }
    redraw();
  };
  chartScript.onerror = () => {
    show("chart-source", "plain canvas: Chart.js is not installed");
    el("chart-note").hidden = false;
  };
  document.head.appendChild(chartScript);

  // ---- tables
  function fillRows(id, rows, cells, emptyText) {
    const old = el(id);
    const body = document.createElement("tbody");
    body.id = id;
    if (!rows.length) {
      const td = body.insertRow().insertCell();
      td.colSpan = old.closest("table").tHead.rows[0].cells.length;
      td.className = "empty";
      td.textContent = emptyText;
    }
    for (const row of rows) {
      const tr = body.insertRow();
      for (const [text, cls] of cells(row)) {
        const td = tr.insertCell();
        td.textContent = text;
        if (cls) td.className = cls;
      }
    }
    old.replaceWith(body);
  }

  // ---- one snapshot
  let previous = null, updates = 0, lastMessage = 0;
  const rate = (now, before, key) => {
    if (!before) return null;
    const seconds = (now.time_ms - before.time_ms) / 1000, delta = now[key] - before[key];
    return seconds > 0 && delta >= 0 ? delta / seconds : null;  // a restarted daemon counts from 0
  };
  const push = (array, value) => { array.push(value); if (array.length > HISTORY) array.shift(); };
  // A quantile of what a latency histogram gained since the previous snapshot, in ms, as
  // Prometheus's histogram_quantile() computes it; null when nothing was observed.
  const latencyQuantile = (q, now, before) => {
    if (!now || !before || now.counts.length !== before.counts.length) return null;
    const counts = now.counts.map((c, i) => c - before.counts[i]);
    const total = counts[counts.length - 1];
    if (!(total > 0)) return null;
    const rank = q * total;
    let lower = 0, below = 0;
    for (let i = 0; i < now.le.length; ++i) {
      if (counts[i] >= rank) return 1000 * (lower + (now.le[i] - lower) * (counts[i] === below ? 0 : (rank - below) / (counts[i] - below)));
      lower = now.le[i]; below = counts[i];
    }
    return 1000 * lower;
  };
  const msText = (ms) => (ms == null ? "–" : ms < 10 ? ms.toFixed(2) + " ms" : integer(ms) + " ms");

  function draw(d) {
    const eventsPerSecond = rate(d, previous, "events_processed");
    const notificationsPerSecond = rate(d, previous, "notifications_delivered");
    show("events-per-s", perSecondText(eventsPerSecond));
    show("events-processed", integer(d.events_processed));
    show("notifications-per-s", perSecondText(notificationsPerSecond));
    show("notifications-delivered", integer(d.notifications_delivered));
    show("notifications-dropped", integer(d.notifications_dropped));
    show("connections", integer(d.client_connections));
    show("tcp-connections", integer(d.client_connections - d.ws_connections));
    show("ws-connections", integer(d.ws_connections));
    show("connected-users", integer(d.connected_users));
    show("event-sources", integer(d.event_sources));
    show("event-sources-label", d.event_sources === 1 ? "event source connected" : "event sources connected");
    show("next-expected", integer(d.next_expected));
    show("head", integer(d.head));
    const gap = typeof d.gap_age_ms === "number";
    show("gap-age", gap ? (d.gap_age_ms / 1000).toFixed(1) + " s" : "–");
    el("gap-on").hidden = !gap;
    el("gap-off").hidden = gap;
    el("sequence-card").classList.toggle("alert", gap && d.gap_age_ms >= 1000);
    const fill = d.window.capacity ? 100 * d.window.pending / d.window.capacity : 0;
    show("window-fill", fill.toFixed(fill < 10 ? 1 : 0) + " %");
    show("window-pending", integer(d.window.pending));
    show("window-capacity", integer(d.window.capacity));
    el("window-bar").style.width = Math.min(100, fill) + "%";
    show("log-state", !d.log.enabled ? "log off" : d.log.recovering ? "recovering" : bytes(d.log.bytes));
    show("log-failing", d.log.failing ? "writes failing: " + d.log.failing : "");
    el("log-failing").title = d.log.failing || "";
    el("log-failing").hidden = !d.log.failing;
    el("log-card").classList.toggle("alert", Boolean(d.log.failing));
    show("log-durable", integer(d.log.durable_seq));
    show("log-segments", integer(d.log.segments));
    el("log-on").hidden = !d.log.enabled;
    el("log-off").hidden = d.log.enabled;
    show("log-epoch", integer(d.log.epoch));
    const bytesIn = rate(d, previous, "bytes_in"), bytesOut = rate(d, previous, "bytes_out");
    show("bytes-out-per-s", bytesOut == null ? "–" : bytes(bytesOut) + "/s");
    show("bytes-in-per-s", bytesIn == null ? "–" : bytes(bytesIn) + "/s");
    show("queued-bytes", bytes(d.queued_bytes));
    show("follow-edges", integer(d.follow_edges));
    show("admin-unauthorized", integer(d.admin_unauthorized));
    show("uptime", duration(d.uptime_s));
    show("updated", clock(d.time_ms));

    fillRows("most-behind", d.most_behind, (c) => [
      [integer(c.user), "num"], [c.remote], [c.transport], [c.mode],
      [integer(c.behind), "num"], [bytes(c.queued_bytes), "num"],
    ], "no registered clients");
    fillRows("warnings", d.recent_warnings.slice().reverse(), (w) => [
      [clock(w.time_ms)], [w.level, "level-" + String(w.level).replace(/[^a-z]/g, "")], [w.message, "message"],
    ], "none");

    push(labels, clock(d.time_ms));
    push(series[0].data, eventsPerSecond);
    push(series[1].data, notificationsPerSecond);
    push(series[2].data, d.client_connections);
    push(series[3].data, fill);
    ["delivery", "durable"].forEach((key, i) => {
      const p50 = latencyQuantile(0.5, d[key + "_latency"], previous && previous[key + "_latency"]);
      const p99 = latencyQuantile(0.99, d[key + "_latency"], previous && previous[key + "_latency"]);
      show(key + "-p50", msText(p50));
      show(key + "-p99", msText(p99));
      push(series[4 + i].data, p99);
    });
    redraw();

    previous = d;
    ++updates;
    show("updates", String(updates));
    document.body.dataset.updates = String(updates);
  }

  show("origin", location.host);
  const state = el("state");
  const setState = (text, cls) => { state.textContent = text; state.className = cls; };
  const events = new EventSource(withToken("/events"));
  events.onopen = () => setState("live", "live");
  events.onerror = () => setState("disconnected, retrying…", "down");
  events.onmessage = (message) => {
    let d;
    try { d = JSON.parse(message.data); } catch (e) { return; }
    lastMessage = Date.now();
    setState("live", "live");
    draw(d);
  };
  // A stream that stays open but goes quiet (a stalled proxy) is shown as such.
  setInterval(() => { if (lastMessage && Date.now() - lastMessage > 3500) setState("no update for " + duration((Date.now() - lastMessage) / 1000), "down"); }, 1000);
})();
</script>
</body>
</html>
)page";

}  // namespace

std::string_view status_page_html() noexcept { return page; }

namespace {
// A latency histogram as the page reads it: the bounds (seconds) and the cumulative counts,
// the +Inf one last; the page takes the difference of two snapshots for the last second's p99.
nlohmann::ordered_json latency_json(const latency_histogram& h) {
  nlohmann::ordered_json le = nlohmann::ordered_json::array();
  nlohmann::ordered_json counts = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < latency_histogram::bounds_seconds.size(); ++i) {
    le.push_back(latency_histogram::bounds_seconds[i]);
    counts.push_back(h.cumulative(i));
  }
  counts.push_back(h.count());
  return {{"le", std::move(le)}, {"counts", std::move(counts)}};
}
}  // namespace

std::string render_status_json(const server_snapshot& s, std::int64_t time_ms) {
  using json = nlohmann::ordered_json;
  const counters& c = s.stats;
  json most_behind = json::array();
  for (const auto& connection : s.most_behind) {
    most_behind.push_back({{"user", connection.user},
                           {"remote", connection.remote},
                           {"transport", connection.transport},
                           {"mode", connection.mode},
                           {"behind", connection.behind},
                           {"queued_bytes", connection.queued_bytes},
                           {"last_sequence", connection.last_sequence}});
  }
  json warnings = json::array();
  for (const auto& warning : s.recent_warnings) {
    warnings.push_back({{"time_ms", warning.time_ms}, {"level", warning.level}, {"message", warning.message}});
  }
  const json body = {
      {"time_ms", time_ms},
      {"uptime_s", s.uptime_seconds},
      {"events_processed", c.events_processed},
      {"events_accepted", c.events_accepted},
      {"lines_received", c.lines_received},
      {"notifications_delivered", c.notifications_delivered},
      {"notifications_dropped", c.notifications_dropped_offline + c.notifications_dropped_closing},
      {"bytes_in", c.bytes_in},
      {"bytes_out", c.bytes_out},
      {"client_connections", s.client_connections},
      {"ws_connections", s.ws_connections},
      {"connected_users", s.connected_users},
      {"event_sources", s.event_sources},
      {"next_expected", s.next_expected},
      {"head", s.head},
      {"gap_age_ms", s.oldest_gap_age ? json(s.oldest_gap_age->count()) : json(nullptr)},
      {"window", {{"pending", s.pending_events}, {"capacity", s.max_pending_events}}},
      {"queued_bytes", s.queued_bytes},
      {"follow_edges", s.follow_edges},
      {"admin_unauthorized", s.admin_unauthorized},
      {"log",
       {{"enabled", s.log.enabled},
        {"recovering", s.log.recovering},
        {"failing", s.log.failing},
        {"bytes", s.log.bytes},
        {"segments", s.log.segments},
        {"durable_seq", s.log.durable_seq},
        {"epoch", s.log.epoch}}},
      {"most_behind", std::move(most_behind)},
      {"recent_warnings", std::move(warnings)},
      {"delivery_latency", latency_json(c.delivery_latency)},
      {"durable_latency", latency_json(c.durable_latency)},
  };
  // replace: a remote or a warning may hold bytes that are not UTF-8; dump() would throw.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> read_static_file(const std::filesystem::path& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO planted at the path must not hang the io thread; the S_ISREG
  // check below then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size < 0 ||
      static_cast<std::uintmax_t>(info.st_size) > max_bytes) {
    return std::nullopt;
  }
  std::string content;
  content.resize(static_cast<std::size_t>(info.st_size));
  std::size_t filled = 0;
  while (filled < content.size()) {
    const ssize_t n = ::read(fd, content.data() + filled, content.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;  // shrank while being read: serve what is there
    filled += static_cast<std::size_t>(n);
  }
  content.resize(filled);
  return content;
}

std::optional<std::string> load_chart_js(const std::filesystem::path& directory) {
  static constexpr std::array<std::string_view, 3> candidates{"chart.umd.js", "chart.umd.min.js", "chart.min.js"};
  for (const auto name : candidates) {
    if (auto content = read_static_file(directory / name)) return content;
  }
  return std::nullopt;
}

}  // namespace eventserver

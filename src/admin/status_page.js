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
    el("edge-card").hidden = !d.edge;
    if (d.edge) {
      show("edge-stream", d.edge.stream);
      show("edge-lag", d.edge.state !== "following" ? d.edge.state
                       : d.edge.lag_known ? integer(d.edge.lag_events) + " events behind" : "measuring");
      show("edge-lag-seconds", d.edge.lag_seconds.toFixed(1) + " s");
      show("edge-problem", d.edge.problem);
      el("edge-problem").title = d.edge.problem;
      el("edge-problem").hidden = !d.edge.problem;
      el("edge-card").classList.toggle("alert", d.edge.state !== "following");
    }
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

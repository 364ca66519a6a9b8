// Hako's console: a read-only view over the JSON API beside this file (api/...), plots by uPlot.
// Everything is built with DOM nodes and textContent: names, messages and log lines are never
// parsed as HTML.
"use strict";

(function () {
  const API = "api/";
  const REFRESH_MS = 3000;
  const LOG_POLL_MS = 700;
  const LOG_KEEP = 2000;

  // What the tests (and a curious person at the devtools) can look at.
  const state = { charts: {}, timers: [], view: null, logAfter: 0, logLines: 0 };
  window.hakoConsole = state;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  async function get(path) {
    const r = await fetch(API + path, { headers: { accept: "application/json" } });
    const body = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  function every(ms, fn) {
    fn();
    state.timers.push(setInterval(fn, ms));
  }

  function clearView() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    Object.values(state.charts).forEach((c) => c.destroy());
    state.charts = {};
    state.logAfter = 0;
    state.logLines = 0;
    const main = document.getElementById("main");
    main.replaceChildren();
    return main;
  }

  function fmtTime(ms) {
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function fmtMs(v) {
    return v === null || v === undefined ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1);
  }

  function table(headers, rows, empty) {
    if (!rows.length) return el("p", { class: "muted", text: empty });
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) =>
        c instanceof Node ? el("td", {}, c) : el("td", { class: typeof c === "number" ? "num" : null, text: c ?? "–" }))))),
    );
  }

  function card(title, ...content) {
    return el("section", { class: "card" }, el("h2", { text: title }), ...content);
  }

  function fnLink(name) {
    return el("a", { href: "#/functions/" + encodeURIComponent(name), text: name });
  }

  // ---- plots ----

  const PLOTS = [
    { key: "invocations", title: "Invocations, errors, throttles (per interval)",
      series: [["invocations", "Invocations", "#2563eb"], ["errors", "Errors", "#c2410c"], ["throttles", "Throttles", "#a16207"]] },
    { key: "duration", title: "Duration, ms (p50, p99 of each interval)",
      series: [["p50_ms", "p50", "#0f766e"], ["p99_ms", "p99", "#7c3aed"]] },
    { key: "concurrency", title: "Concurrent executions",
      series: [["concurrency", "Concurrency", "#0369a1"]] },
  ];

  function plots(container, fn) {
    const grid = el("div", { class: "plots" });
    container.append(grid);
    const boxes = {};
    for (const p of PLOTS) {
      boxes[p.key] = el("div", { class: "plot", id: "plot-" + p.key }, el("h3", { text: p.title }));
      grid.append(boxes[p.key]);
    }
    const query = fn ? "?function=" + encodeURIComponent(fn) : "";
    every(REFRESH_MS, async () => {
      let m;
      try { m = await get("metrics" + query); } catch (e) { return; }
      for (const p of PLOTS) {
        const data = [m.t, ...p.series.map(([k]) => m[k])];
        const chart = state.charts[p.key];
        if (chart) { chart.setData(data); continue; }
        const width = Math.max(380, boxes[p.key].clientWidth - 10);
        state.charts[p.key] = new uPlot({
          width, height: 200,
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
          series: [{}, ...p.series.map(([, label, stroke]) => ({ label, stroke, width: 2, points: { show: true, size: 4 }, spanGaps: false }))],
          axes: [{}, { size: 50 }],
        }, data, boxes[p.key]);
      }
    });
  }

  // ---- recent invocations ----

  function invocations(container, fn) {
    const box = el("div", { id: "invocations" });
    container.append(card("Recent invocations", box));
    const query = fn ? "?function=" + encodeURIComponent(fn) : "";
    every(REFRESH_MS, async () => {
      let list;
      try { list = await get("invocations" + query); } catch (e) { return; }
      box.replaceChildren(table(
        ["Ended (UTC)", "Function", "Version", "Request id", "Duration ms", "Start", "Init ms", "Status"],
        list.slice(0, 50).map((r) => [
          fmtTime(r.endedMs), fnLink(r.function), r.version, r.requestId, fmtMs(r.durationMs),
          r.cold ? "cold" : "warm", fmtMs(r.initDurationMs),
          el("span", { class: r.status === "Success" ? "ok" : "bad", text: r.status }),
        ]),
        "No invocation since Hako started."));
    });
  }

  // ---- views ----

  async function overview() {
    const main = clearView();
    main.append(el("h1", { text: "Overview" }));
    plots(main, null);
    const fnBox = el("div", { id: "functions" });
    main.append(card("Functions", fnBox));
    every(REFRESH_MS * 3, async () => {
      let fns;
      try { fns = await get("functions"); } catch (e) { fnBox.replaceChildren(el("p", { class: "error", text: e.message })); return; }
      fnBox.replaceChildren(table(
        ["Name", "Runtime", "Handler", "Memory MB", "Timeout s", "State", "Last modified"],
        fns.map((f) => [fnLink(f.FunctionName), f.Runtime || f.PackageType, f.Handler, f.MemorySize, f.Timeout, f.State, f.LastModified]),
        "No function yet."));
    });
    invocations(main, null);
  }

  function configList(c) {
    const rows = [
      ["ARN", c.FunctionArn], ["Runtime", c.Runtime], ["Handler", c.Handler], ["Role", c.Role],
      ["Memory", c.MemorySize + " MB"], ["Timeout", c.Timeout + " s"],
      ["Ephemeral storage", (c.EphemeralStorage || {}).Size + " MB"], ["Architectures", (c.Architectures || []).join(", ")],
      ["Code", c.CodeSize + " bytes, sha256 " + c.CodeSha256], ["State", c.State + " / " + c.LastUpdateStatus],
      ["Last modified", c.LastModified], ["Log group", (c.LoggingConfig || {}).LogGroup],
      ["Log format", (c.LoggingConfig || {}).LogFormat], ["Layers", (c.Layers || []).map((l) => l.Arn).join(", ") || "–"],
    ];
    const dl = el("dl", { class: "config" });
    for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v ?? "–" }));
    const names = c.EnvironmentVariableNames || [];
    dl.append(el("dt", { text: "Environment" }), el("dd", { id: "env-names" },
      ...(names.length ? names.map((n) => el("span", { class: "tag", text: n + " = ••••" })) : ["–"])));
    return dl;
  }

  async function functionView(name) {
    const main = clearView();
    main.append(el("h1", {}, "Function ", el("span", { id: "function-name", text: name })));
    const cfgBox = el("div", { id: "config" });
    main.append(card("Configuration", cfgBox, el("p", { class: "muted", text: "Environment variable values are never shown here." })));
    plots(main, name);
    invocations(main, name);
    const log = el("div", { id: "log" });
    const logState = el("span", { class: "muted" });
    main.append(card("Live log", logState, log));
    const versionsBox = el("div", { id: "versions" });
    const aliasesBox = el("div", { id: "aliases" });
    main.append(card("Versions", versionsBox), card("Aliases", aliasesBox));

    let config;
    try { config = await get("functions/" + encodeURIComponent(name)); } catch (e) {
      cfgBox.replaceChildren(el("p", { class: "error", text: e.message }));
      return;
    }
    cfgBox.replaceChildren(configList(config));
    get("functions/" + encodeURIComponent(name) + "/versions").then((vs) => versionsBox.replaceChildren(table(
      ["Version", "Description", "Code sha256", "Last modified"],
      vs.map((v) => [v.Version, v.Description, v.CodeSha256, v.LastModified]), "No version."))).catch(() => {});
    get("functions/" + encodeURIComponent(name) + "/aliases").then((as) => aliasesBox.replaceChildren(table(
      ["Alias", "Version", "Routing", "Description"],
      as.map((a) => [a.Name, a.FunctionVersion, JSON.stringify((a.RoutingConfig || {}).AdditionalVersionWeights || {}), a.Description]),
      "No alias."))).catch(() => {});

    const group = (config.LoggingConfig || {}).LogGroup || "/aws/lambda/" + name;
    logState.textContent = "Following " + group + " (new lines appear within a second)";
    let busy = false;
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const events = await get("logs?group=" + encodeURIComponent(group) + "&after=" + state.logAfter);
          if (!events.length) break;
          const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
          const frag = document.createDocumentFragment();
          for (const e of events) {
            frag.append(el("div", { class: "line" }, el("span", { class: "ts", text: fmtTime(e.timestamp) + " " }), e.message));
            state.logAfter = e.id;
          }
          log.append(frag);
          state.logLines += events.length;
          while (log.childElementCount > LOG_KEEP) log.firstElementChild.remove();
          if (atBottom) log.scrollTop = log.scrollHeight;
          if (events.length < 500) break;
        }
      } catch (e) {
        logState.textContent = "Log: " + e.message;
      } finally {
        busy = false;
      }
    };
    every(LOG_POLL_MS, poll);
  }

  async function sources() {
    const main = clearView();
    main.append(el("h1", { text: "Queues, streams, mappings and schedules" }));
    const boxes = {
      queues: el("div", { id: "queues" }), streams: el("div", { id: "streams" }),
      mappings: el("div", { id: "mappings" }), schedules: el("div", { id: "schedules" }),
    };
    main.append(card("SQS queues", boxes.queues), card("Kinesis streams", boxes.streams),
      card("Event source mappings", boxes.mappings), card("Schedules", boxes.schedules));
    const show = (key, headers, shape, empty) => get(key).then(
      (list) => boxes[key].replaceChildren(table(headers, list.map(shape), empty)),
      (e) => boxes[key].replaceChildren(el("p", { class: "error", text: e.message })));
    every(REFRESH_MS * 2, () => {
      show("queues", ["Name", "Type", "Visible", "In flight", "Delayed", "Oldest s", "Sent", "Received", "Deleted"],
        (q) => [q.name, q.fifo ? "FIFO" : "standard", q.visible, q.inFlight, q.delayed, q.oldestAgeSeconds, q.sent, q.received, q.deleted], "No queue.");
      show("streams", ["Name", "Status", "Mode", "Shards", "Retention h", "Records", "Bytes"],
        (s) => [s.name, s.status, s.mode, s.shards, s.retentionHours, s.records, s.bytes], "No stream.");
      show("mappings", ["UUID", "Source", "Function", "State", "Batch", "Last result"],
        (m) => [m.UUID, m.EventSourceArn, (m.FunctionArn || "").split(":function:")[1] || m.FunctionArn, m.State, m.BatchSize, m.LastProcessingResult], "No event source mapping.");
      show("schedules", ["Group", "Name", "State", "Expression", "Next (UTC)", "Pending", "Target"],
        (s) => [s.group, s.name, s.state, s.expression, s.nextMs ? fmtTime(s.nextMs) : "–", s.pending, s.target], "No schedule.");
    });
  }

  function route() {
    const hash = location.hash || "#/";
    let nav = "overview";
    const m = hash.match(/^#\/functions\/(.+)$/);
    if (m) functionView(decodeURIComponent(m[1]));
    else if (hash === "#/sources") { nav = "sources"; sources(); }
    else overview();
    state.view = hash;
    document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
  }

  window.addEventListener("hashchange", route);
  route();
})();

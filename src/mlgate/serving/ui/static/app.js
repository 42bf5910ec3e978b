// The mlgate dashboard: polls the gateway's /ui/api reads about once a second and draws
// them; acts through the admin API with the token typed in (kept in this tab only).
// Every URL is relative, so the page works under whatever prefix serves the gateway.
"use strict";

(() => {
  const ADMIN = "mlgate.adminToken";
  const READ = "mlgate.readToken";
  const EVERY_MS = 1000;
  const MODELS_EVERY_MS = 5000;
  const COLOURS = { champion: "#0072b2", challenger: "#e69f00", limit: "#d55e00" };

  const $ = (id) => document.getElementById(id);
  const charts = new Map();
  let view = "rollout";
  let rollout = null;
  let modelsReadAt = 0;
  let nextAt = null;
  let adminRefused = null;  // why the last admin token entered was refused

  // --- reading ----------------------------------------------------------------------

  function bearer(key) {
    const token = sessionStorage.getItem(key);
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async function read(path) {
    // The admin token may read too: an admin needs only the one.
    const key = sessionStorage.getItem(READ) || !sessionStorage.getItem(ADMIN) ? READ : ADMIN;
    const response = await fetch(path, { headers: bearer(key), cache: "no-store" });
    if (response.status === 401) {
      $("read-form").hidden = false;
      throw new Error("these figures need the project's read token (MLGATE_READ_TOKEN) or its admin token");
    }
    if (!response.ok) {
      throw new Error(`${path} answered ${response.status}: ${await message(response)}`);
    }
    return response.json();
  }

  async function message(response) {
    try {
      const body = await response.json();
      const error = body.error;
      return typeof error === "string" ? error : JSON.stringify(error ?? body);
    } catch {
      return response.statusText;
    }
  }

  // --- small DOM helpers (text only: nothing the server sends is parsed as HTML) -------

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text ?? "";
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function fill(tableId, items, makeRow) {
    const body = $(tableId).tBodies[0];
    const rows = items.map((item) => {
      const tr = document.createElement("tr");
      makeRow(tr, item);
      return tr;
    });
    body.replaceChildren(...rows);
  }

  const time = (iso) => new Date(iso).toLocaleTimeString();
  const when = (iso) => new Date(iso).toLocaleString();
  const pct = (v) => (v === null || v === undefined ? "–" : `${(+v).toFixed(4).replace(/\.?0+$/, "")}%`);

  // --- charts (uPlot) -------------------------------------------------------------------

  function chart(holder, key, title, series, data, bands, extra) {
    let entry = charts.get(key);
    if (!entry) {
      const figure = document.createElement("figure");
      figure.className = "chart";
      figure.id = `chart-${key}`;
      const caption = document.createElement("figcaption");
      caption.textContent = title;
      const plot = document.createElement("div");
      figure.append(caption, plot);
      holder.appendChild(figure);
      const options = {
        width: Math.max(plot.clientWidth || figure.clientWidth - 10, 240),
        height: 190,
        series: [{}, ...series],
        bands: bands || [],
        axes: [{}, { size: 55 }],
        legend: { live: true },
        ...extra,
      };
      entry = { figure, plot: new uPlot(options, data, plot) };
      charts.set(key, entry);
    } else {
      entry.figure.firstChild.textContent = title;
      entry.plot.setData(data);
    }
    entry.figure.dataset.points = String(data[0].length);
    entry.figure.classList.toggle("no-data", data[0].length === 0);
  }

  const line = (label, colour, extra) => ({
    label, stroke: colour, width: 2, spanGaps: true, points: { show: true, size: 5 }, ...extra,
  });
  const limit = (label) => ({
    label, stroke: COLOURS.limit, width: 1.5, dash: [6, 4], points: { show: false },
  });

  function analysisCharts(data) {
    const points = data.points;
    const x = points.map((p) => p.at);
    const both = (pick, i) => points.map((p) => (pick(p) ? pick(p)[i] : null));
    const constant = (value) => points.map(() => (value === null || value === undefined ? null : value));
    const t = data.thresholds;
    const holder = $("charts");
    chart(holder, "error_rate", "Error rate", [
      line("champion", COLOURS.champion), line("challenger", COLOURS.challenger),
      limit("limit"),
    ], [x, both((p) => p.error_rate, 0), both((p) => p.error_rate, 1), constant(t.max_error_rate)]);
    chart(holder, "p99_latency_ratio", "p99 latency, challenger ÷ champion", [
      line("ratio", COLOURS.challenger), limit("limit"),
    ], [x, points.map((p) => p.p99_latency_ratio), constant(t.max_p99_latency_ratio)]);
    chart(holder, "agreement", "Agreement with the champion", [
      line("agreement", COLOURS.challenger), limit("minimum"),
    ], [x, points.map((p) => p.agreement), constant(t.min_agreement)]);
    chart(holder, "accuracy", "Live accuracy", [
      line("champion", COLOURS.champion), line("challenger", COLOURS.challenger),
    ], [x, both((p) => p.accuracy, 0), both((p) => p.accuracy, 1)]);
    const delta = (key) => points.map((p) => (p.accuracy_delta ? p.accuracy_delta[key] : null));
    chart(holder, "accuracy_delta", "Live accuracy difference, with its always-valid interval", [
      line("difference", COLOURS.challenger),
      line("high", COLOURS.challenger, { width: 1, dash: [2, 3], points: { show: false } }),
      line("low", COLOURS.challenger, { width: 1, dash: [2, 3], points: { show: false } }),
      limit("minimum"),
    ], [x, delta("difference"), delta("high"), delta("low"), constant(t.min_live_accuracy_delta)],
    [{ series: [2, 3], fill: "rgba(230, 159, 0, 0.18)" }]);
    // Before labels: each version's estimate with its 95% interval (the champion's on the
    // challenger's rows when it answered them).
    const estimate = (key, i) => points.map((p) => (p.estimated ? p.estimated[key][i] : null));
    const thin = { width: 1, dash: [2, 3], points: { show: false } };
    const metric = points.some((p) => p.estimated && p.estimated.metric === "mae") ? "MAE" : "accuracy";
    chart(holder, "estimated", `Estimated ${metric} before labels, with 95% intervals`, [
      line("champion", COLOURS.champion),
      line("champion high", COLOURS.champion, thin), line("champion low", COLOURS.champion, thin),
      line("challenger", COLOURS.challenger),
      line("challenger high", COLOURS.challenger, thin),
      line("challenger low", COLOURS.challenger, thin),
    ], [x, estimate("value", 0), estimate("high", 0), estimate("low", 0),
      estimate("value", 1), estimate("high", 1), estimate("low", 1)],
    [{ series: [2, 3], fill: "rgba(0, 114, 178, 0.12)" },
      { series: [5, 6], fill: "rgba(230, 159, 0, 0.18)" }]);
    chart(holder, "requests", "Requests per arm", [
      line("champion", COLOURS.champion), line("challenger", COLOURS.challenger),
    ], [x, both((p) => p.requests, 0), both((p) => p.requests, 1)]);
  }

  // --- the rollout view -------------------------------------------------------------------

  function showRollout(data) {
    rollout = data;
    $("model").textContent = data.model;
    $("champion").textContent = data.champion ? `v${data.champion}` : "none";
    $("challenger").textContent = data.challenger ? `v${data.challenger}` : "none";
    $("status").textContent = data.status;
    $("strategy").textContent = data.strategy;
    const steps = data.plan.strategy === "canary" && data.plan.steps ? data.plan.steps.length : 1;
    $("step").textContent = data.status === "running" && data.step !== null && data.step !== undefined
      ? `${data.step + 1} of ${steps}` : "–";
    $("weight").textContent = pct(data.weight);
    nextAt = data.next ? Date.now() + data.next.in_seconds * 1000 : null;
    showCountdown();
    const plan = data.plan;
    const stepsText = plan.steps ? ` ${plan.steps.map((s) => `${s}%`).join(" → ")}` : "";
    $("plan").textContent = `Plan: ${plan.strategy}${stepsText}, an analysis every ${plan.interval} s, `
      + `rolled back after ${plan.failure_limit} failed analyses.`
      + (data.next ? ` Next: ${data.next.action}.` : "");
    showActions();
    analysisCharts(data);
    fill("events", [...data.events].reverse(), (tr, e) => {
      cell(tr, time(e.at), "num");
      cell(tr, e.kind, `kind-${e.kind}`);
      cell(tr, pct(e.weight), "num");
      cell(tr, e.message);
      cell(tr, e.actor);
    });
  }

  function showCountdown() {
    $("next").textContent = nextAt === null ? "–" : `${Math.max(0, (nextAt - Date.now()) / 1000).toFixed(0)} s`;
  }

  // --- the models view ------------------------------------------------------------------

  function showModels(data) {
    const shown = (metrics) => Object.entries(metrics)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : (+v).toFixed(4)}`).join(", ");
    fill("versions", [...data.versions].reverse(), (tr, v) => {
      const open = document.createElement("button");
      open.type = "button";
      open.className = "link";
      open.textContent = `v${v.version}`;
      open.addEventListener("click", () => showVersion(v.version));
      cell(tr, "", "num").appendChild(open);
      cell(tr, v.aliases.join(", "));
      const gate = v.passed === null ? "–" : v.passed ? "passed" : "failed";
      const td = cell(tr, gate, v.passed === null ? "" : v.passed ? "pass" : "fail");
      if (v.reasons.length) td.title = v.reasons.join("\n");
      cell(tr, shown(v.metrics));
      cell(tr, when(v.created), "num");
    });
    fill("history", [...data.history].reverse(), (tr, e) => {
      cell(tr, when(e.at), "num");
      cell(tr, e.alias);
      cell(tr, `${e.from ? `v${e.from}` : "–"} → ${e.to ? `v${e.to}` : "–"}`, "num");
      cell(tr, e.action);
      cell(tr, e.actor);
      cell(tr, e.reason);
    });
  }

  const fixed = (v, digits = 4) => (v === null || v === undefined ? "–" : (+v).toFixed(digits));

  async function showVersion(version) {
    const panel = $("version-detail");
    try {
      const v = await read(`ui/api/versions/${encodeURIComponent(version)}`);
      $("version-title").textContent = `Version ${v.version}`
        + (v.aliases.length ? ` (${v.aliases.join(", ")})` : "")
        + `: gate ${v.passed === null ? "not applied" : v.passed ? "passed" : "failed"}`;
      const c = v.comparison;
      $("version-against").textContent = c
        ? `Compared with ${c.against} on ${c.test_samples} held-out rows (paired: the same rows).`
          + (c.mcnemar ? ` McNemar: ${c.mcnemar.baseline_only} rows only the champion got right, `
            + `${c.mcnemar.candidate_only} only this version; p = ${fixed(c.mcnemar.p_value, 3)}.` : "")
        : "No comparison report: it was registered with no champion to compare against.";
      fill("comparison", c ? c.metrics : [], (tr, m) => {
        cell(tr, m.metric);
        cell(tr, fixed(m.baseline), "num");
        cell(tr, fixed(m.candidate), "num");
        cell(tr, fixed(m.difference), "num");
        const level = m.confidence === 0.95 ? "" : ` (${m.confidence * 100}%)`;
        cell(tr, `${fixed(m.ci_low)} to ${fixed(m.ci_high)}${level}`, "num");
        cell(tr, fixed(m.p_value, 3), "num");
      });
      fill("checks", c ? c.checks : v.reasons.map((r) => ({ passed: v.passed, reason: r })), (tr, k) => {
        cell(tr, k.passed ? "pass" : "fail", k.passed ? "pass" : "fail");
        cell(tr, k.reason);
      });
      panel.hidden = false;
      panel.scrollIntoView();
    } catch (error) {
      $("notice").textContent = `Could not read version ${version}: ${error.message}`;
    }
  }

  // --- the traffic view -----------------------------------------------------------------

  function showTraffic(data) {
    $("traffic-window").textContent =
      `The last ${data.window_s / 60} minutes of the prediction log, in ${data.bucket_s} s buckets.`;
    const versions = Object.keys(data.versions).sort();
    // Every bucket from the first to the last: a bucket without requests is a zero (and a
    // gap in latency), never a line drawn across it as if traffic had gone on.
    const seen = versions.flatMap((v) => data.versions[v].t);
    const ts = [];
    if (seen.length) {
      for (let t = Math.min(...seen); t <= Math.max(...seen); t += data.bucket_s) ts.push(t);
    }
    const palette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#f0e442"];
    const holder = $("traffic-charts");
    for (const [key, title] of [["requests", "Requests"], ["errors", "Errors"], ["p99", "p99 latency (ms)"]]) {
      const columns = versions.map((v) => {
        const at = new Map(data.versions[v].t.map((t, i) => [t, data.versions[v][key][i]]));
        return ts.map((t) => (at.has(t) ? at.get(t) : key === "p99" ? null : 0));
      });
      const chartKey = `traffic-${key}-${versions.join(",")}`;
      for (const [k, entry] of charts) {  // the versions changed: draw the chart anew
        if (k.startsWith(`traffic-${key}-`) && k !== chartKey) { entry.plot.destroy(); entry.figure.remove(); charts.delete(k); }
      }
      chart(holder, chartKey, title,
        versions.map((v, i) => line(`v${v}`, palette[i % palette.length])), [ts, ...columns]);
    }
    showDrift(data.monitor);
  }

  function showDrift(m) {
    $("monitor").textContent = m ? `${when(m.at)}: ${m.message}` : "The monitor has not run yet (mlgate monitor).";
    const columns = m ? m.columns : [];
    $("drift").hidden = columns.length === 0;
    const num = (v) => (v === null || v === undefined ? "–" : (+v).toPrecision(3));
    fill("drift", columns, (tr, c) => {
      cell(tr, c.column);
      cell(tr, c.test);
      cell(tr, num(c.statistic), "num");
      cell(tr, num(c.p_adjusted ?? c.p_value), "num");
      cell(tr, c.drifted ? "drifted" : "no drift", c.drifted ? "fail" : "pass");
    });
    const holder = $("drift-charts");
    const wanted = new Set(Object.keys(m ? m.distributions : {}).map((c) => `drift-${m.at}-${c}`));
    for (const [k, entry] of charts) {  // another monitor run: its columns, drawn anew
      if (k.startsWith("drift-") && !wanted.has(k)) { entry.plot.destroy(); entry.figure.remove(); charts.delete(k); }
    }
    for (const [column, d] of Object.entries(m ? m.distributions : {})) {
      const series = [line("reference", COLOURS.champion), line("current", COLOURS.challenger)];
      const key = `drift-${m.at}-${column}`;
      if (d.kind === "numeric") {
        chart(holder, key, `${column}: value at each percentile`, series,
          [d.levels, d.reference, d.current], [],
          { scales: { x: { time: false } }, axes: [{ values: (u, ticks) => ticks.map((t) => `${t}%`) }, { size: 75 }] });
      } else {
        const at = d.categories.map((_, i) => i);
        chart(holder, key, `${column}: share of each category`, series,
          [at, d.reference, d.current], [],
          { scales: { x: { time: false } },
            axes: [{ splits: () => at, values: (u, ticks) => ticks.map((t) => d.categories[t] ?? "") }, { size: 50 }] });
      }
    }
  }

  // --- actions ----------------------------------------------------------------------------

  const ACTS = {
    start: { path: () => "admin/rollout/start", ask: () => `Start rolling out v${rollout.challenger}?` },
    promote: {
      path: () => (rollout.status === "running" ? "admin/rollout/promote" : "admin/promote"),
      ask: () => `Promote v${rollout.challenger} to champion now?`,
    },
    abort: { path: () => "admin/rollout/abort", ask: () => `Abort the rollout of v${rollout.challenger}? All traffic goes back to v${rollout.champion}.` },
    rollback: { path: () => "admin/rollback", ask: () => "Roll back now?" },
  };

  function showActions() {
    // `mlgate ui` serves no admin API: with no gateway behind the page, it only reads.
    const gateway = !rollout || rollout.serving !== null;
    const admin = gateway && Boolean(sessionStorage.getItem(ADMIN));
    const running = rollout && rollout.status === "running";
    const challenger = rollout && rollout.challenger;
    const possible = { start: !running && challenger, promote: challenger, abort: running, rollback: true };
    for (const button of document.querySelectorAll(".act")) {
      button.disabled = !admin || !rollout || !possible[button.dataset.act];
      button.title = !gateway ? "No gateway here: act through mlgate serve's page or the CLI"
        : admin ? "" : "Enter the admin token to act";
    }
    for (const id of ["admin-label", "admin-token", "admin-save"]) $(id).hidden = !gateway;
    $("admin-state").textContent = !gateway ? "read-only: no gateway (mlgate ui)"
      : admin ? "admin token in use (this tab only)" : adminRefused ?? "read-only";
    $("admin-forget").hidden = !admin;
  }

  async function act(name) {
    const spec = ACTS[name];
    if (!rollout || !window.confirm(spec.ask())) return;
    const result = $("action-result");
    result.className = "";
    result.textContent = `${name}: sending…`;
    try {
      const response = await fetch(spec.path(), {
        method: "POST",
        headers: { ...bearer(ADMIN), "Content-Type": "application/json" },
        body: name === "start" ? "{}" : JSON.stringify({ reason: `${name} from the dashboard` }),
      });
      if (response.ok) {
        const body = await response.json();
        const serving = body.serving || body;
        result.className = "ok";
        result.textContent = `${name}: done. Serving champion v${serving.champion}`
          + (serving.challenger ? `, challenger v${serving.challenger} (${serving.strategy} ${serving.weight}%)` : "") + ".";
      } else {
        result.className = "refused";
        result.textContent = `${name} refused (${response.status}): ${await message(response)}`;
      }
    } catch (error) {
      result.className = "refused";
      result.textContent = `${name} failed: ${error.message}`;
    }
    refresh();
  }

  // --- polling --------------------------------------------------------------------------

  // One read at a time: a refresh asked for while one runs (an act, a tab) follows it.
  let timer = null;
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    clearTimeout(timer);
    try {
      if (view === "rollout") showRollout(await read("ui/api/rollout"));
      if (view === "models" && Date.now() - modelsReadAt > MODELS_EVERY_MS) {
        showModels(await read("ui/api/models"));
        modelsReadAt = Date.now();
      }
      if (view === "traffic") showTraffic(await read("ui/api/traffic"));
      $("notice").textContent = "";
    } catch (error) {
      $("notice").textContent = `Could not read the figures: ${error.message}`;
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      refresh();
    } else {
      timer = setTimeout(refresh, EVERY_MS);
    }
  }

  function show(name) {
    view = name;
    for (const tab of document.querySelectorAll(".tab")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.view === name));
    }
    for (const section of document.querySelectorAll(".view")) {
      section.hidden = section.id !== `view-${name}`;
    }
    modelsReadAt = 0;
    refresh();
  }

  function resize() {
    for (const { figure, plot } of charts.values()) {
      plot.setSize({ width: Math.max(figure.clientWidth - 10, 240), height: 190 });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => show(tab.dataset.view));
    }
    for (const button of document.querySelectorAll(".act")) {
      button.addEventListener("click", () => act(button.dataset.act));
    }
    $("admin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("admin-token").value.trim();
      $("admin-token").value = "";
      if (!token) return;
      // Asked of the gateway before it is kept: a wrong token never turns the actions on.
      const response = await fetch("admin/rollout", {
        headers: { Authorization: `Bearer ${token}` },
        cache: "no-store",
      });
      if (response.ok) {
        sessionStorage.setItem(ADMIN, token);
        adminRefused = null;
        refresh();
      } else {
        adminRefused = `admin token refused (${response.status}): ${await message(response)}`;
      }
      showActions();
    });
    $("admin-forget").addEventListener("click", () => {
      sessionStorage.removeItem(ADMIN);
      showActions();
    });
    $("read-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("read-token").value.trim();
      if (token) sessionStorage.setItem(READ, token);
      $("read-token").value = "";
      $("read-form").hidden = true;
      refresh();
    });
    window.addEventListener("resize", resize);
    setInterval(showCountdown, 250);
    showActions();
    refresh();
  });
})();

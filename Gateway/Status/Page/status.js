// The live status page: reads /status/data with the admin token every few seconds and draws it with uPlot.
// Every value is written with textContent, never as HTML.
"use strict";
(() => {
  const tokenKey = "chihaya.status.token";
  const $ = id => document.getElementById(id);
  const charts = {};
  let timer = null;
  let updates = 0;

  // A token in the fragment (#token=...) is never sent to the server: keep it for this tab and drop it from the URL.
  if (location.hash.startsWith("#token=")) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(location.hash.slice("#token=".length)));
    history.replaceState(null, "", location.pathname);
  }

  const chartDefinitions = {
    requests: { element: "chart-requests", series: [
      { key: "accepted", label: "accepted/s", stroke: "#2e7d32" },
      { key: "refused", label: "refused/s", stroke: "#c62828" },
      { key: "scrapes", label: "scrapes/s", stroke: "#1565c0" }] },
    peers: { element: "chart-peers", series: [
      { key: "peers", label: "peers", stroke: "#6a1b9a" },
      { key: "seeders", label: "seeders", stroke: "#2e7d32" },
      { key: "leechers", label: "leechers", stroke: "#ef6c00" }] },
    swarms: { element: "chart-swarms", series: [
      { key: "swarms", label: "swarms", stroke: "#00838f" }] },
    unwritten: { element: "chart-unwritten", series: [
      { key: "unwrittenBytes", label: "unwritten bytes", stroke: "#5d4037", scale: "bytes" },
      { key: "oldestUnwrittenAge", label: "oldest age (s)", stroke: "#c62828", scale: "s", dash: [6, 4] }] },
  };

  function bytes(value) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return (unit === 0 ? value.toFixed(0) : value.toFixed(1)) + " " + units[unit];
  }

  function makeChart(name, definition) {
    const element = $(definition.element);
    const scales = { x: { time: true } };
    const axes = [{}];
    const seenScales = [];
    for (const series of definition.series) {
      const scale = series.scale || "y";
      if (seenScales.includes(scale)) continue;
      scales[scale] = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
      axes.push({ scale, side: seenScales.length === 0 ? 3 : 1, grid: { show: seenScales.length === 0 },
        values: scale === "bytes" ? (u, values) => values.map(bytes) : undefined, size: 70 });
      seenScales.push(scale);
    }
    const options = {
      width: Math.max(320, element.clientWidth - 4),
      height: 240,
      scales,
      axes,
      series: [{}].concat(definition.series.map(series => ({
        label: series.label, stroke: series.stroke, width: 2, scale: series.scale || "y", dash: series.dash,
        points: { show: false } }))),
    };
    charts[name] = new uPlot(options, [[], ...definition.series.map(() => [])], element);
  }

  function drawCharts(series) {
    for (const [name, definition] of Object.entries(chartDefinitions)) {
      if (!charts[name]) makeChart(name, definition);
      charts[name].setData([series.t, ...definition.series.map(s => series[s.key])]);
      // For tests and scripts: how many points are drawn, and the largest value of each series.
      const element = $(definition.element);
      element.dataset.points = String(series.t.length);
      for (const s of definition.series) {
        element.dataset["max" + s.key[0].toUpperCase() + s.key.slice(1)] = String(Math.max(0, ...series[s.key]));
      }
    }
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function fill(tableId, rows, render) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren();
    for (const item of rows) render(body.insertRow(), item);
    if (rows.length === 0) cell(body.insertRow(), "none").colSpan = $(tableId).tHead.rows[0].cells.length;
  }

  const time = value => new Date(value).toLocaleTimeString();
  const totals = counts => Object.entries(counts).map(([outcome, n]) => `${outcome} ${n}`).join(", ") || "none";

  function render(data) {
    drawCharts(data.series);
    const active = data.members.filter(member => member.status === "Active").length;
    $("summary").textContent = `${active} active silo${active === 1 ? "" : "s"}, ${data.gateways.length} gateway${data.gateways.length === 1 ? "" : "s"} reporting`;
    $("updated").textContent = `updated ${time(data.at)}, a point every ${data.intervalSeconds} s`;
    fill("members", data.members, (row, member) => {
      cell(row, member.address, "hash");
      cell(row, member.name);
      cell(row, member.host);
      cell(row, member.status, member.status === "Active" ? "ok" : "bad");
      cell(row, new Date(member.startedAt).toLocaleString());
      cell(row, member.reporting ? "yes" : "no", member.reporting || member.status !== "Active" ? "" : "bad");
    });
    fill("silos", data.silos, (row, silo) => {
      cell(row, silo.silo, "hash");
      cell(row, String(silo.swarms), "n");
      cell(row, String(silo.seeders), "n");
      cell(row, String(silo.leechers), "n");
      cell(row, String(silo.cachedUsers), "n");
      cell(row, bytes(silo.unwrittenBytes), "n");
      cell(row, `${silo.oldestUnwrittenAge} s`, "n");
      const checks = cell(row, "");
      for (const check of silo.checks) {
        const line = document.createElement("span");
        line.className = "check " + (check.ok ? "ok" : "bad");
        line.textContent = `${check.ok ? "✔" : "✘"} ${check.name}: ${check.detail}`;
        checks.appendChild(line);
      }
    });
    fill("gateways", data.gateways, (row, gateway) => {
      cell(row, gateway.gateway, "hash");
      cell(row, totals(gateway.announces));
      cell(row, totals(gateway.scrapes));
    });
    fill("busiest", data.busiest, (row, swarm) => {
      cell(row, swarm.infoHash, "hash");
      cell(row, String(swarm.seeders), "n");
      cell(row, String(swarm.leechers), "n");
      cell(row, swarm.silo, "hash");
    });
    updates++;
    document.body.dataset.updates = String(updates);
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = !message;
  }

  function showLogin(message) {
    clearTimeout(timer);
    $("status").hidden = true;
    $("forget").hidden = true;
    $("login").hidden = false;
    showError(message);
  }

  async function refresh() {
    const token = sessionStorage.getItem(tokenKey);
    if (!token) { showLogin(""); return; }
    let wait = 5;
    try {
      const response = await fetch("/status/data", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
      if (response.status === 401) { sessionStorage.removeItem(tokenKey); showLogin("The gateway refused that token."); return; }
      if (response.status === 403) { showLogin("The status data is disabled on this gateway: set Admin:Token."); return; }
      const data = await response.json();
      $("login").hidden = true;
      $("forget").hidden = false;
      $("status").hidden = false;
      if (!response.ok) {
        showError(data.error || `HTTP ${response.status}`);
      } else {
        showError("");
        render(data);
        wait = Math.min(5, Math.max(1, data.intervalSeconds));
      }
    } catch (error) {
      showError(`The gateway does not answer: ${error}`);
    }
    timer = setTimeout(refresh, wait * 1000);
  }

  $("login").addEventListener("submit", event => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, $("token").value);
    $("token").value = "";
    refresh();
  });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(tokenKey); showLogin(""); });
  window.addEventListener("resize", () => {
    for (const [name, definition] of Object.entries(chartDefinitions)) {
      const element = $(definition.element);
      charts[name]?.setSize({ width: Math.max(320, element.clientWidth - 4), height: 240 });
    }
  });
  refresh();
})();

// TradeReady dashboard: progressive enhancement of server-rendered pages.
// Live updates poll small payloads (HTML fragments of the active cards, a run summary, curve points
// after the last episode shown) every ~2 s while something runs, and stop when nothing does.
"use strict";

(function () {
  var POLL_MS = 2000;
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
    "#4f46e5", "#65a30d", "#0d9488", "#b91c1c", "#7c3aed", "#c2410c", "#0369a1", "#a16207", "#be185d",
    "#15803d", "#6d28d9", "#334155"];

  // ---- helpers ---------------------------------------------------------------------------------

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function onAuthLost() {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  function request(url, kind) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": kind === "json" ? "application/json" : "text/html" } })
      .then(function (response) {
        if (response.status === 401 || (response.redirected && response.url.indexOf("/login") !== -1)) {
          onAuthLost();
          throw new Error("signed out");
        }
        if (!response.ok) {
          return response.text().then(function (text) {
            var message = "HTTP " + response.status;
            try { message = JSON.parse(text).error.message; } catch (e) { /* not JSON */ }
            throw new Error(message);
          });
        }
        return kind === "json" ? response.json() : response.text();
      });
  }
  function getJSON(url) { return request(url, "json"); }
  function getHTML(url) { return request(url, "html"); }

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function fmt(value, kind) {
    if (value === null || value === undefined || (typeof value === "number" && !isFinite(value))) { return "—"; }
    switch (kind) {
      case "int": return Math.round(value).toLocaleString("en-US");
      case "pct": return (value > 0 ? "+" : "") + value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "%";
      case "plainpct": return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "%";
      case "plainpct1": return value.toFixed(1) + "%";
      case "num1": return value.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
      case "duration": return duration(value);
      default: return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 3 });
    }
  }

  function duration(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 60) { return Math.round(seconds) + "s"; }
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m < 60) { return m + "m " + (s < 10 ? "0" : "") + s + "s"; }
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 48) { return h + "h " + (m < 10 ? "0" : "") + m + "m"; }
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function setField(root, run) {
    $all("[data-field]", root).forEach(function (node) {
      var key = node.getAttribute("data-field");
      if (!(key in run)) { return; }
      var kind = node.getAttribute("data-format");
      var value = run[key];
      node.textContent = fmt(value, kind);
      if (kind === "pct" || (kind === "num" && key === "avg_sharpe")) {
        node.classList.toggle("pos", value > 0);
        node.classList.toggle("neg", value < 0);
      }
    });
  }

  // A poller that runs `tick` every POLL_MS while `tick` resolves to true, pauses in hidden tabs.
  // At most one tick runs at a time: a tab shown again while a tick is in flight does not start another.
  function poller(tick) {
    var timer = null, stopped = false, busy = false;
    function schedule() {
      if (stopped || timer !== null) { return; }
      timer = window.setTimeout(run, POLL_MS);
    }
    function run() {
      timer = null;
      if (document.hidden || busy) { return; } // resumed by visibilitychange, or by the tick in flight
      busy = true;
      Promise.resolve().then(tick).then(function (again) {
        busy = false;
        if (again) { schedule(); } else { stopped = true; }
      }, function (error) {
        busy = false;
        if (String(error && error.message) !== "signed out") { schedule(); }
      });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !stopped && timer === null && !busy) { run(); }
    });
    return {
      start: function () { stopped = false; if (timer === null) { schedule(); } },
      stop: function () { stopped = true; if (timer !== null) { window.clearTimeout(timer); timer = null; } },
      get active() { return !stopped; }
    };
  }

  function setLiveDot(on) {
    var dot = document.getElementById("nav-live-dot");
    if (dot) { dot.hidden = !on; }
  }

  // Links inside `slot` whose targets are full pages get swapped in place from `fragmentBase` + query.
  function enhanceLinks(slot, fragmentBase, after) {
    slot.addEventListener("click", function (event) {
      var link = event.target.closest("a");
      if (!link || !slot.contains(link) || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) { return; }
      var url = new URL(link.href, window.location.href);
      if (url.pathname !== window.location.pathname) { return; }
      event.preventDefault();
      swap(slot, fragmentBase + url.search).then(function () {
        window.history.replaceState(null, "", url.pathname + url.search);
        if (after) { after(url); }
      });
    });
  }

  function swap(slot, url) {
    slot.setAttribute("aria-busy", "true");
    return getHTML(url).then(function (html) {
      var focusedSort = document.activeElement && slot.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
      slot.innerHTML = html;
      slot.removeAttribute("aria-busy");
      if (focusedSort) {
        var again = $all("a", slot).filter(function (a) { return a.getAttribute("href") === focusedSort; })[0];
        var target = again || $("a, button, input", slot);
        if (target) { target.focus(); }
      }
    }, function (error) {
      slot.removeAttribute("aria-busy");
      throw error;
    });
  }

  // ---- Plotly ----------------------------------------------------------------------------------

  function chartLayout(yTitle) {
    var text = css("--text"), grid = css("--border"), muted = css("--muted");
    return {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: css("--sans") || "system-ui", color: text, size: 12 },
      margin: { l: 56, r: 16, t: 12, b: 44 },
      hovermode: "x unified",
      hoverlabel: { bgcolor: css("--surface"), bordercolor: grid, font: { color: text } },
      xaxis: { title: { text: "Episode", font: { color: muted } }, gridcolor: grid, zerolinecolor: grid, linecolor: grid },
      yaxis: { title: { text: yTitle, font: { color: muted } }, gridcolor: grid, zerolinecolor: muted, linecolor: grid },
      legend: { orientation: "h", y: -0.22, x: 0, font: { color: text } },
      showlegend: true
    };
  }
  var PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function withAlpha(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function curveTraces(points, colour, name, rawName) {
    var x = [], raw = [], smooth = [];
    points.forEach(function (p) { x.push(p.episode); raw.push(p.value); smooth.push(p.smoothed); });
    var traces = [];
    if (rawName) {
      traces.push({ x: x, y: raw, type: "scatter", mode: "lines", name: rawName,
        line: { color: withAlpha(colour, 0.3), width: 1 }, hovertemplate: "%{y:.4g}" });
    }
    traces.push({ x: x, y: smooth, type: "scatter", mode: "lines", name: name,
      line: { color: colour, width: 2.4 }, hovertemplate: "%{y:.4g}" });
    return traces;
  }

  function whenPlotly(callback) {
    if (window.Plotly) { callback(); return; }
    window.addEventListener("load", function () { if (window.Plotly) { callback(); } });
  }

  // ---- /training -------------------------------------------------------------------------------

  function trainingPage() {
    var activeSlot = document.getElementById("active-slot");
    var runsSlot = document.getElementById("runs-slot");
    var selected = {};

    function runningIds() {
      return $all("[data-run-id]", activeSlot).filter(function (card) {
        return $(".status-running", card) !== null;
      }).map(function (card) { return card.getAttribute("data-run-id"); }).sort().join(",");
    }
    function anyRunning() {
      var cards = $("#active-cards", activeSlot);
      return cards !== null && cards.getAttribute("data-any-running") === "true";
    }

    function syncSelection() {
      if (!runsSlot) { return; }
      $all("input.select-run", runsSlot).forEach(function (box) { box.checked = !!selected[box.value]; });
      var ids = Object.keys(selected);
      var button = document.getElementById("compare-button");
      var count = document.getElementById("compare-count");
      if (!button) { return; }
      if (ids.length >= 2) {
        button.setAttribute("aria-disabled", "false");
        button.href = "/training/compare?run_ids=" + ids.map(encodeURIComponent).join(",");
        count.textContent = ids.length + " runs selected.";
      } else {
        button.setAttribute("aria-disabled", "true");
        button.href = "/training/compare";
        count.textContent = ids.length === 1 ? "1 run selected: select one more to compare." : "Select two or more runs to compare their learning curves.";
      }
    }

    if (runsSlot) {
      runsSlot.addEventListener("change", function (event) {
        var box = event.target;
        if (!box.classList || !box.classList.contains("select-run")) { return; }
        if (box.checked) { selected[box.value] = true; } else { delete selected[box.value]; }
        syncSelection();
      });
      enhanceLinks(runsSlot, runsSlot.getAttribute("data-fragment"), syncSelection);
      var compareButton = document.getElementById("compare-button");
      compareButton.addEventListener("click", function (event) {
        if (compareButton.getAttribute("aria-disabled") === "true") { event.preventDefault(); }
      });
      var form = document.getElementById("runs-filter");
      form.addEventListener("change", function () { form.requestSubmit(); });
      syncSelection();
    }

    function refreshRuns() {
      if (!runsSlot) { return Promise.resolve(); }
      return swap(runsSlot, runsSlot.getAttribute("data-fragment") + window.location.search).then(syncSelection);
    }

    var before = runningIds();
    var ticks = 0;
    setLiveDot(anyRunning());
    var live = poller(function () {
      return getHTML(activeSlot.getAttribute("data-poll")).then(function (html) {
        activeSlot.innerHTML = html;
        var now = runningIds();
        ticks += 1;
        var running = anyRunning();
        setLiveDot(running);
        if (now !== before || ticks % 5 === 0 || !running) {
          before = now;
          return refreshRuns().then(function () { return running; });
        }
        return running;
      });
    });
    // Poll while a run is active; stop when none is.
    if (anyRunning()) { live.start(); }
  }

  // ---- /training/{run_id} ----------------------------------------------------------------------

  function runPage() {
    var data = readJSON("run-data");
    // lastEpisode: the highest episode drawn; count: how many episodes the drawn curve covers (all of them
    // up to lastEpisode). A run with more episodes than `count` has new ones after lastEpisode, or late ones
    // (reported out of order) below it, which only a full redraw shows.
    var state = { metric: data.metric, window: data.window, lastEpisode: data.last_episode || 0, count: 0,
      status: data.status, method: "none" };
    var chart = document.getElementById("curve-chart");
    var note = document.getElementById("curve-note");
    var liveNote = document.getElementById("live-note");
    var episodesSlot = document.getElementById("episodes-slot");
    var requestSeq = 0;

    function label() { return data.metric_labels[state.metric] || state.metric; }

    function draw() {
      var seq = ++requestSeq;
      var url = "/dashboard-api/training/runs/" + encodeURIComponent(data.run_id) + "/learning-curve?metric=" +
        encodeURIComponent(state.metric) + "&window=" + state.window + "&max_points=" + data.max_points;
      chart.setAttribute("aria-busy", "true");
      return getJSON(url).then(function (curve) {
        if (seq !== requestSeq) { return; }
        chart.removeAttribute("aria-busy");
        var points = curve.curve;
        state.lastEpisode = points.length ? points[points.length - 1].episode : 0;
        state.count = curve.n_total;
        state.method = curve.method;
        state.zoomed = false;
        state.summary = curve;
        var accent = css("--accent") || PALETTE[0];
        var traces = curveTraces(points, accent.charAt(0) === "#" ? accent : PALETTE[0],
          label() + ", rolling mean of " + state.window, label() + ", each episode");
        var layout = chartLayout(label());
        if (!points.length) {
          layout.annotations = [{ text: "No episodes yet: the curve starts with the first finished episode.", showarrow: false,
            xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: css("--muted"), size: 14 } }];
        }
        window.Plotly.react(chart, traces, layout, PLOT_CONFIG);
        watchZoom();
        chart.setAttribute("data-points", String(points.length));
        chart.setAttribute("data-metric", state.metric);
        chart.setAttribute("data-window", String(state.window));
        chart.removeAttribute("data-zoomed");
        note.textContent = "Faint: each episode's value. Bold: rolling mean of the last " + state.window + " episodes. " +
          (curve.method === "lttb" ? "Showing " + curve.n_returned.toLocaleString("en-US") + " of " + curve.n_total.toLocaleString("en-US") +
            " episodes (downsampled after smoothing, so peaks and dips are kept). " : "All " + curve.n_total.toLocaleString("en-US") + " episodes. ") +
          "Drag to zoom, double-click to reset.";
      }, function (error) {
        chart.removeAttribute("aria-busy");
        note.textContent = "Could not load the curve: " + error.message;
      });
    }

    // Zooming into a downsampled curve fetches every episode of the visible range (up to 10,000),
    // smoothed exactly like the full curve; double-click (autorange) goes back to the whole run.
    var zoomWatched = false, zoomSeq = 0;
    function watchZoom() {
      if (zoomWatched) { return; }
      zoomWatched = true;
      chart.on("plotly_relayout", function (event) {
        if (event["xaxis.autorange"]) {
          if (state.zoomed) { draw(); }
          return;
        }
        var range = event["xaxis.range"] || [event["xaxis.range[0]"], event["xaxis.range[1]"]];
        var x0 = range[0], x1 = range[1];
        if (x0 === undefined || x1 === undefined || state.method !== "lttb") { return; }
        var since = Math.max(0, Math.floor(x0) - 1), until = Math.ceil(x1);
        if (until - since > 10000) { return; }
        if (state.zoomed && state.zoomRange && since >= state.zoomRange[0] && until <= state.zoomRange[1]) { return; }
        var seq = ++zoomSeq, drawSeq = requestSeq;
        var url = "/dashboard-api/training/runs/" + encodeURIComponent(data.run_id) + "/learning-curve?metric=" +
          encodeURIComponent(state.metric) + "&window=" + state.window + "&since_episode=" + since + "&until_episode=" + until;
        getJSON(url).then(function (curve) {
          if (seq !== zoomSeq || drawSeq !== requestSeq || !curve.curve.length) { return; }
          var x = [], raw = [], smooth = [];
          curve.curve.forEach(function (p) { x.push(p.episode); raw.push(p.value); smooth.push(p.smoothed); });
          state.zoomed = true;
          state.zoomRange = [since, until];
          window.Plotly.restyle(chart, { x: [x, x], y: [raw, smooth] }, [0, 1]);  // the zoomed axis range stays
          chart.setAttribute("data-zoomed", since + "-" + until);
          chart.setAttribute("data-points", String(x.length));
          note.textContent = "Zoomed: every episode from " + (since + 1).toLocaleString("en-US") + " to " +
            x[x.length - 1].toLocaleString("en-US") + " (" + x.length.toLocaleString("en-US") + " points), rolling mean of the last " +
            state.window + ". Double-click to see the whole run.";
        });
      });
    }

    function setMetric(metric) {
      state.metric = metric;
      $all("#metric-picker button").forEach(function (b) { b.setAttribute("aria-pressed", b.getAttribute("data-metric") === metric ? "true" : "false"); });
      syncUrl();
      draw();
    }

    function syncUrl() {
      var url = new URL(window.location.href);
      url.searchParams.set("metric", state.metric);
      url.searchParams.set("window", String(state.window));
      window.history.replaceState(null, "", url.pathname + url.search);
    }

    $all("#metric-picker button").forEach(function (button) {
      button.addEventListener("click", function () { setMetric(button.getAttribute("data-metric")); });
    });
    var windowInput = document.getElementById("window-input");
    var windowTimer = null;
    windowInput.addEventListener("input", function () {
      window.clearTimeout(windowTimer);
      windowTimer = window.setTimeout(function () {
        var value = parseInt(windowInput.value, 10);
        if (!isFinite(value) || value < 1 || value > 10000) {
          windowInput.setAttribute("aria-invalid", "true");
          return;
        }
        windowInput.removeAttribute("aria-invalid");
        if (value !== state.window) { state.window = value; syncUrl(); draw(); }
      }, 250);
    });

    enhanceLinks(episodesSlot, episodesSlot.getAttribute("data-fragment"));

    function latestEpisodesShown() {
      var table = document.getElementById("episodes-table");
      return table && table.getAttribute("data-sort") === "episode" && table.getAttribute("data-order") === "desc" && table.getAttribute("data-page") === "1";
    }

    // Live points after the last one drawn. One request at a time; only points beyond the last x the
    // traces really hold are appended (never twice, never backwards); episodes that arrived late, below
    // the last one drawn, make the server's total exceed what the chart covers: the chart is redrawn.
    var appending = null;
    function appendNewPoints() {
      if (appending) { return appending; }
      if (chart.getAttribute("aria-busy") === "true" || !chart.data || state.zoomed) { return Promise.resolve(); } // a full draw is coming, or a zoomed range is shown
      var seq = requestSeq;
      var url = "/dashboard-api/training/runs/" + encodeURIComponent(data.run_id) + "/learning-curve?metric=" +
        encodeURIComponent(state.metric) + "&window=" + state.window + "&since_episode=" + state.lastEpisode;
      appending = getJSON(url).then(function (curve) {
        if (seq !== requestSeq || state.zoomed || !chart.data || chart.data.length !== 2) { return; }
        var drawn = chart.data[0].x, shownLast = drawn.length ? drawn[drawn.length - 1] : -Infinity;
        var x = [], raw = [], smooth = [];
        curve.curve.forEach(function (p) {
          if (p.episode > shownLast && p.episode > state.lastEpisode) {
            shownLast = p.episode;
            x.push(p.episode); raw.push(p.value); smooth.push(p.smoothed);
          }
        });
        if (!curve.truncated && state.count + x.length < curve.total_episodes) { return draw(); }
        if (!x.length) { return; }
        window.Plotly.extendTraces(chart, { x: [x, x.slice()], y: [raw, smooth] }, [0, 1]);
        state.lastEpisode = x[x.length - 1];
        state.count += x.length;
        chart.setAttribute("data-points", String(chart.data[0].x.length));
        if (chart.layout.annotations && chart.layout.annotations.length) { window.Plotly.relayout(chart, { annotations: [] }); }
      }).then(function () { appending = null; }, function (error) { appending = null; throw error; });
      return appending;
    }

    var lastTotal = data.total_episodes;
    var live = poller(function () {
      return getJSON("/dashboard-api/training/runs/" + encodeURIComponent(data.run_id) + "/summary").then(function (run) {
        setField(document.getElementById("run-summary"), run);
        var progress = document.getElementById("overall-progress-metric");
        if (progress) { progress.hidden = run.progress_pct === null; }
        if (run.status !== state.status) {
          state.status = run.status;
          var badge = document.getElementById("run-status");
          badge.innerHTML = "";
          var span = document.createElement("span");
          span.className = "status status-" + run.status;
          span.setAttribute("data-status", run.status);
          span.textContent = run.status;
          badge.appendChild(span);
        }
        var running = run.status === "running";
        setLiveDot(running);
        liveNote.textContent = running ? "Live: updating every 2 s" + (run.heartbeat_age_s !== null ? " · heartbeat " + duration(run.heartbeat_age_s) + " ago" : "") : "";
        var work = [];
        if (run.total_episodes !== state.count) { work.push(appendNewPoints()); }
        if (run.total_episodes !== lastTotal) {
          lastTotal = run.total_episodes;
          if (latestEpisodesShown()) { work.push(swap(episodesSlot, episodesSlot.getAttribute("data-fragment") + window.location.search)); }
        }
        return Promise.all(work).then(function () { return running; });
      });
    });

    whenPlotly(function () {
      draw().then(function () { if (state.status === "running") { setLiveDot(true); live.start(); } });
    });
    document.addEventListener("tr:themechange", function () { if (window.Plotly) { draw(); } });
  }

  // ---- /training/compare -----------------------------------------------------------------------

  function comparePage() {
    var data = readJSON("compare-data");
    var state = { window: data.window, totals: {} };
    $all("[data-swatch]").forEach(function (node) {
      node.style.background = PALETTE[parseInt(node.getAttribute("data-swatch"), 10) % PALETTE.length];
    });

    function query(metric) {
      return "/dashboard-api/training/compare-curves?run_ids=" + data.run_ids.map(encodeURIComponent).join(",") +
        "&metric=" + encodeURIComponent(metric) + "&window=" + state.window + "&max_points=" + data.max_points;
    }

    function drawAll() {
      return Promise.all(data.metrics.map(function (pair) {
        var metric = pair[0], label = pair[1];
        var node = document.getElementById("compare-chart-" + metric);
        return getJSON(query(metric)).then(function (result) {
          var traces = [];
          result.runs.forEach(function (run, i) {
            state.totals[run.run_id] = run.total_episodes;
            var name = run.strategy_label + " · " + run.run_id.slice(-6);
            traces = traces.concat(curveTraces(run.curve, PALETTE[i % PALETTE.length], name, null));
          });
          window.Plotly.react(node, traces, chartLayout(label), PLOT_CONFIG);
          node.setAttribute("data-traces", String(traces.length));
          return result.runs.some(function (run) { return run.status === "running"; });
        });
      })).then(function (flags) { return flags.some(Boolean); });
    }

    var windowInput = document.getElementById("window-input");
    var timer = null;
    windowInput.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var value = parseInt(windowInput.value, 10);
        if (!isFinite(value) || value < 1 || value > 10000) { windowInput.setAttribute("aria-invalid", "true"); return; }
        windowInput.removeAttribute("aria-invalid");
        state.window = value;
        var url = new URL(window.location.href);
        url.searchParams.set("window", String(value));
        window.history.replaceState(null, "", url.pathname + url.search);
        drawAll();
      }, 250);
    });

    // Live: watch the running runs' small summaries; redraw (downsampled curves) only when episodes arrive.
    var live = poller(function () {
      var running = data.run_ids.filter(function (id) { return data.statuses[id] === "running"; });
      return Promise.all(running.map(function (id) {
        return getJSON("/dashboard-api/training/runs/" + encodeURIComponent(id) + "/summary").then(function (run) {
          data.statuses[id] = run.status;
          return run.total_episodes !== state.totals[id];
        });
      })).then(function (changed) {
        var stillRunning = data.run_ids.some(function (id) { return data.statuses[id] === "running"; });
        setLiveDot(stillRunning);
        if (changed.some(Boolean)) { return drawAll().then(function () { return stillRunning; }); }
        return stillRunning;
      });
    });

    whenPlotly(function () {
      drawAll().then(function (anyRunning) { if (anyRunning) { setLiveDot(true); live.start(); } });
    });
    document.addEventListener("tr:themechange", function () { if (window.Plotly) { drawAll(); } });
  }

  // ---- /backtests and /backtests/{id} ----------------------------------------------------------

  function backtestsPage() {
    var form = document.getElementById("backtests-filter");
    if (!form) { return; }
    var hide = document.getElementById("hide-training");
    hide.addEventListener("change", function () { form.requestSubmit(); });
    document.getElementById("bt-status").addEventListener("change", function () { form.requestSubmit(); });
  }

  function backtestPage() {
    var data = readJSON("backtest-data");
    var equityNode = document.getElementById("equity-chart");
    var priceNode = document.getElementById("price-chart");
    var note = document.getElementById("price-note");
    var picker = document.getElementById("symbol-picker");

    function toDates(ms) { return ms.map(function (t) { return new Date(t); }); }

    function draw(symbol) {
      var url = "/dashboard-api/backtests/" + encodeURIComponent(data.session_id) + "/charts" +
        (symbol ? "?symbol=" + encodeURIComponent(symbol) : "");
      return getJSON(url).then(function (charts) {
        var good = css("--good") || "#16a34a", bad = css("--bad") || "#dc2626", accent = css("--accent") || PALETTE[0];
        var layout = chartLayout("Equity");
        layout.xaxis = Object.assign({}, layout.xaxis, { title: { text: "" }, type: "date", anchor: "y2" });
        layout.yaxis = Object.assign({}, layout.yaxis, { domain: [0.38, 1] });
        layout.yaxis2 = Object.assign({}, layout.yaxis, { domain: [0, 0.3], title: { text: "Drawdown %", font: { color: css("--muted") } }, autorange: "reversed" });
        window.Plotly.react(equityNode, [
          { x: toDates(charts.equity.time), y: charts.equity.equity, type: "scatter", mode: "lines", name: "Equity",
            line: { color: accent, width: 2 }, hovertemplate: "%{y:,.2f}" },
          { x: toDates(charts.drawdown.time), y: charts.drawdown.drawdown_pct, type: "scatter", mode: "lines", name: "Drawdown",
            yaxis: "y2", fill: "tozeroy", line: { color: bad, width: 1 }, fillcolor: withAlpha(bad.charAt(0) === "#" ? bad : "#dc2626", 0.2), hovertemplate: "-%{y:.2f}%" }
        ], layout, PLOT_CONFIG);
        equityNode.setAttribute("data-points", String(charts.equity.time.length));

        var price = charts.price;
        var traces = [];
        if (price.kind === "ohlc") {
          traces.push({ x: toDates(price.time), open: price.open, high: price.high, low: price.low, close: price.close,
            type: "candlestick", name: charts.symbol, increasing: { line: { color: good } }, decreasing: { line: { color: bad } } });
        } else {
          traces.push({ x: toDates(price.time), y: price.close, type: "scatter", mode: "lines", name: charts.symbol + " close",
            line: { color: css("--muted") || "#64748b", width: 1.4 } });
        }
        ["buy", "sell"].forEach(function (side) {
          var fills = charts.trades.filter(function (t) { return t.side === side; });
          traces.push({ x: toDates(fills.map(function (t) { return t.time; })), y: fills.map(function (t) { return t.price; }),
            type: "scatter", mode: "markers", name: side === "buy" ? "Buys" : "Sells",
            marker: { symbol: side === "buy" ? "triangle-up" : "triangle-down", size: 13,
              color: side === "buy" ? (css("--accent") || "#2563eb") : (css("--warn") || "#d97706"),
              line: { width: 1.5, color: css("--text") || "#111" } },
            text: fills.map(function (t) { return t.kind + " " + t.quantity.toPrecision(4) + (t.realized_pnl !== null ? " · PnL " + t.realized_pnl.toFixed(2) : ""); }),
            hovertemplate: "%{text}<br>%{y:,.2f}<extra>" + (side === "buy" ? "Buy" : "Sell") + "</extra>" });
        });
        var playout = chartLayout(charts.symbol);
        playout.xaxis = Object.assign({}, playout.xaxis, { title: { text: "" }, type: "date", rangeslider: { visible: false } });
        playout.hovermode = "closest";
        window.Plotly.react(priceNode, traces, playout, PLOT_CONFIG);
        priceNode.setAttribute("data-trades", String(charts.trades.length));
        note.textContent = charts.trades_total + " fill" + (charts.trades_total === 1 ? "" : "s") + " on " + charts.symbol +
          (charts.trades_total > charts.trades.length ? " (first " + charts.trades.length + " marked)" : "") +
          (price.kind === "close" ? ". Long session: closing prices shown, downsampled." : ". Drag to zoom, double-click to reset.");
      }, function (error) {
        note.textContent = "Could not load the charts: " + error.message;
      });
    }
    if (picker) { picker.addEventListener("change", function () { draw(picker.value); }); }
    whenPlotly(function () { draw(picker ? picker.value : null); });
    document.addEventListener("tr:themechange", function () { if (window.Plotly) { draw(picker ? picker.value : null); } });
  }

  // ---- boot ------------------------------------------------------------------------------------

  var pages = { training: trainingPage, run: runPage, compare: comparePage, backtests: backtestsPage, backtest: backtestPage };
  window.trDashboard = { pages: pages, fmt: fmt, poller: poller, getJSON: getJSON, getHTML: getHTML, swap: swap,
    chartLayout: chartLayout, PLOT_CONFIG: PLOT_CONFIG, PALETTE: PALETTE, whenPlotly: whenPlotly, setLiveDot: setLiveDot,
    enhanceLinks: enhanceLinks, readJSON: readJSON, css: css };

  function boot() {
    var page = document.body.getAttribute("data-page");
    if (pages[page]) { pages[page](); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
})();

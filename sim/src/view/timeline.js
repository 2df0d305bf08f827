// Draws the timeline model (the JSON in #model, see timeline.rs) into one
// SVG: per node a lane with fault marks, role band, phase band, fault-point
// ticks and a height step plot; across lanes the liveness window, the
// faults that hit every node and the violation. Plain JS, no library: the
// page must open offline. Sets body[data-rendered=ok] once drawn.
"use strict";
(function () {
  const model = JSON.parse(document.getElementById("model").textContent);
  const US = 1e6;
  const END = Math.max(model.end, 1);
  const MIN_SPAN = 1000; // 1 ms: the simulation's resolution
  const LABEL_W = 170, RIGHT = 24, AXIS_H = 26, HARNESS_H = 34, LANE_GAP = 8, BOTTOM = 32;
  // Rows of a lane, from its top: fault labels (two rows), role, phase,
  // fault-point ticks, height chart.
  const L = { fault: 0, role: 30, roleH: 22, phase: 54, phaseH: 22, tick: 78, tickH: 10, chart: 92, chartH: 48, h: 144 };
  const ROLE = { leader: ["#2e7d32", "#fff"], follower: ["#90caf9", "#0d2b45"], none: ["#e0e0e0", "#333"],
                 down: ["#424242", "#fff"], stopped: ["#8d3b12", "#fff"] };
  const PHASE = { starting: "#fff59d", waiting_for_leader: "#ffe082", waiting_landed: "#ffcc80", p2p_init: "#ce93d8",
                  p2p_gave_up: "#f48fb1", producing: "#a5d6a7", following: "#b3e5fc" };
  const FAULT = { crash: "#c62828", restart: "#1565c0", fresh_start: "#0d47a1", partition: "#6a1b9a", heal: "#2e7d32",
                  loss: "#ef6c00", link_latency: "#ef6c00", delay_connect: "#ef6c00" };
  const MARK = { restart: "#00838f", exit: "#4e342e", panic: "#b71c1c", violation: "#d50000", skipped: "#9e9e9e",
                 point: "#ff8f00", event: "#607d8b" };
  const view = { t0: 0, t1: END };
  const chart = document.getElementById("chart");
  const tip = document.getElementById("tip");
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = "11px sans-serif";
  let hMax = 1;
  for (const lane of model.lanes) for (const s of lane.heights) hMax = Math.max(hMax, s[1]);

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function secs(us) { return (us / US).toFixed(3) + " s"; }
  function range(a, b) { return secs(a) + " – " + secs(b) + " (" + ((b - a) / US).toFixed(3) + " s)"; }
  function width(text) { return measure.measureText(text).width; }
  function markColour(m) { return m.kind === "fault" ? (FAULT[m.label] || "#c62828") : (MARK[m.kind] || "#333"); }
  function r1(v) { return Math.round(v * 10) / 10; }
  // The last index whose time is <= t in a time-sorted array (-1 if none).
  function lastAtOrBefore(items, t, at) {
    let lo = 0, hi = items.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (at(items[mid]) <= t) lo = mid + 1; else hi = mid; }
    return lo - 1;
  }
  // A 1, 2 or 5 step giving a tick about every 110 px.
  function niceStep(span, px) {
    const target = span / Math.max(2, px / 110);
    const p = Math.pow(10, Math.floor(Math.log10(target)));
    for (const m of [1, 2, 5, 10]) if (m * p >= target) return m * p;
    return 10 * p;
  }
  // Greedy label rows: a label goes right of its mark (left of it near
  // the right edge), in the first row where it overlaps no other; with no
  // room it is left out (its mark keeps its tooltip). Returns [row, x].
  function rows(n, right) {
    const taken = Array.from({ length: n }, () => []);
    return (x, w) => {
      const a = x + 6 + w > right ? x - 6 - w : x + 6;
      for (let i = 0; i < n; i++) {
        if (taken[i].every((r) => a + w + 10 <= r[0] || a >= r[1] + 10)) { taken[i].push([a, a + w]); return [i, a]; }
      }
      return [-1, a];
    };
  }

  function banner() {
    const b = document.getElementById("banner");
    b.className = model.outcome === "pass" ? "pass" : "fail";
    const at = model.violation ? " — found at " + secs(model.violation.at) : "";
    const heights = model.lanes.map((l) => "n" + l.node + "=" + l.final_height + (l.running ? "" : " (down)")).join(" ");
    const live = model.liveness_from < model.end ? "liveness window from " + secs(model.liveness_from) : "the run ended before the liveness window";
    let html = "<strong>" + esc(model.verdict) + "</strong>" + esc(at) +
      "<div class=\"facts\">sim time " + esc(secs(model.end)) + " · heights at the end: " + esc(heights) +
      " · leader: " + esc(model.leader ? "n" + model.leader : "none") + " · " + esc(live) + "</div>";
    if (model.params.length) {
      html += "<details><summary>drawn from the seed</summary>" +
        model.params.map((p) => esc(p[0] + " = " + p[1])).join("<br>") + "</details>";
    }
    b.innerHTML = html;
  }

  function legend() {
    const sw = (c, t) => "<span><span class=\"sw\" style=\"background:" + c + "\"></span>" + esc(t) + "</span>";
    const parts = ["<span class=\"group\">role:</span>"];
    for (const k of ["leader", "follower", "none", "down", "stopped"]) {
      parts.push(sw(ROLE[k][0], k === "none" ? "no role" : k === "stopped" ? "stopped (exited)" : k));
    }
    parts.push("<span class=\"group\">phase:</span>");
    for (const k of Object.keys(PHASE)) parts.push(sw(PHASE[k], k.replace(/_/g, " ")));
    parts.push("<span class=\"group\">marks:</span>", sw(FAULT.crash, "crash"), sw(FAULT.restart, "restart"),
      sw(FAULT.partition, "partition"), sw(MARK.restart, "supervisor restart"), sw(MARK.panic, "panic / exit"),
      sw(MARK.point, "fault point"), sw(MARK.event, "peer / syncer event"), sw(MARK.violation, "violation"),
      sw("#ffd54f", "liveness window"));
    document.getElementById("legend").innerHTML = parts.join(" ");
  }

  function draw() {
    const W = Math.max(720, chart.clientWidth || 1200);
    const x0 = LABEL_W, x1 = W - RIGHT, pw = x1 - x0, span = view.t1 - view.t0;
    const sx = (t) => x0 + (t - view.t0) / span * pw;
    const cx = (x) => r1(Math.max(x0 - 2, Math.min(x1 + 2, x)));
    const seen = (a, b) => b >= view.t0 && a <= view.t1;
    const top = AXIS_H + HARNESS_H;
    const laneY = (i) => top + i * (L.h + LANE_GAP);
    const bottom = laneY(model.lanes.length) - LANE_GAP;
    const H = bottom + BOTTOM;
    const o = [];
    o.push("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + W + "\" height=\"" + H +
      "\" font-family=\"sans-serif\" font-size=\"11\"><defs><clipPath id=\"plot\"><rect x=\"" + x0 +
      "\" y=\"0\" width=\"" + pw + "\" height=\"" + H + "\"/></clipPath></defs>");
    model.lanes.forEach((lane, i) => o.push("<rect x=\"0\" y=\"" + laneY(i) + "\" width=\"" + W + "\" height=\"" + L.h +
      "\" fill=\"" + (i % 2 ? "#f7f8fa" : "#eef1f5") + "\"/>"));
    // Time axis, top and bottom, with a grid.
    const step = niceStep(span, pw);
    const digits = step >= US ? 0 : Math.min(6, Math.ceil(-Math.log10(step / US)));
    // Tick labels stay outside the clip, so the first and last are whole.
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      const x = r1(sx(t)), label = (t / US).toFixed(digits);
      o.push("<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + (AXIS_H - 4) + "\" y2=\"" + (bottom + 4) + "\" stroke=\"#dadde2\"/>" +
        "<text x=\"" + x + "\" y=\"" + (AXIS_H - 8) + "\" text-anchor=\"middle\">" + label + "</text>" +
        "<text x=\"" + x + "\" y=\"" + (bottom + 18) + "\" text-anchor=\"middle\">" + label + "</text>");
    }
    o.push("<g clip-path=\"url(#plot)\">");
    if (model.liveness_from < model.end && seen(model.liveness_from, model.end)) {
      const a = cx(sx(model.liveness_from)), b = cx(sx(model.end));
      o.push("<rect x=\"" + a + "\" y=\"" + AXIS_H + "\" width=\"" + r1(b - a) + "\" height=\"" + (bottom - AXIS_H) +
        "\" fill=\"#ffd54f\" fill-opacity=\"0.22\" data-tip=\"" + esc("liveness window: every node's height must grow from " +
        secs(model.liveness_from) + " to the end (" + secs(model.end) + ")") + "\"/>");
    }
    o.push("</g>");
    o.push("<text x=\"10\" y=\"" + (AXIS_H - 8) + "\" fill=\"#555\">time (s)</text>" +
      "<text x=\"10\" y=\"" + (AXIS_H + 20) + "\" fill=\"#555\">all nodes</text>" +
      "<line x1=\"" + x0 + "\" x2=\"" + x1 + "\" y1=\"" + AXIS_H + "\" y2=\"" + AXIS_H + "\" stroke=\"#999\"/>");
    model.lanes.forEach((lane, i) => drawLane(o, lane, i, laneY(i), { x0, x1, sx, cx, seen }));
    drawOverlay(o, { x0, x1, sx, cx, seen, bottom });
    o.push("</svg>");
    chart.innerHTML = o.join("");
    document.getElementById("window").textContent = "showing " + secs(view.t0) + " – " + secs(view.t1) + " of " + secs(model.end);
    chart.dataset.geometry = JSON.stringify({ x0: x0, pw: pw });
  }

  function band(o, spans, y, h, colour, g, who) {
    for (const s of spans) {
      if (!g.seen(s.from, s.to)) continue;
      const a = g.cx(g.sx(s.from)), b = g.cx(g.sx(s.to)), w = r1(Math.max(b - a, 0.5));
      const [fill, ink] = colour(s.kind);
      o.push("<rect x=\"" + a + "\" y=\"" + y + "\" width=\"" + w + "\" height=\"" + h + "\" fill=\"" + fill +
        "\" stroke=\"#fff\" stroke-width=\"0.5\" data-tip=\"" + esc(who + ": " + s.text + "\n" + range(s.from, s.to)) + "\"/>");
      const left = Math.max(a, g.x0) + 4, room = Math.min(b, g.x1) - left - 3;
      let text = s.label;
      while (text.length > 1 && width(text) > room) text = text.slice(0, -2) + "…";
      if (room > 14 && width(text) <= room) {
        o.push("<text x=\"" + r1(left) + "\" y=\"" + (y + h / 2 + 4) + "\" fill=\"" + ink + "\" pointer-events=\"none\">" + esc(text) + "</text>");
      }
    }
  }

  function drawLane(o, lane, i, y, g) {
    const name = "n" + lane.node;
    o.push("<g class=\"lane\" data-node=\"" + name + "\" transform=\"translate(0," + y + ")\">");
    const state = (model.leader === lane.node ? "leader · " : "") + (lane.running ? "running" : "down") + " at end";
    o.push("<text x=\"10\" y=\"24\" font-size=\"20\" font-weight=\"bold\">" + name + "</text>" +
      "<text x=\"10\" y=\"44\" fill=\"#444\">height " + lane.final_height + "</text>" +
      "<text x=\"10\" y=\"58\" fill=\"#444\">" + esc(state) + "</text>");
    if (lane.thinned) o.push("<text x=\"10\" y=\"72\" fill=\"#777\">" + lane.thinned + " ticks thinned</text>");
    const cap = (yy, t) => o.push("<text x=\"" + (g.x0 - 6) + "\" y=\"" + yy + "\" text-anchor=\"end\" fill=\"#777\">" + t + "</text>");
    cap(L.fault + 18, "faults"); cap(L.role + 15, "role"); cap(L.phase + 15, "phase"); cap(L.tick + 9, "points");
    cap(L.chart + 9, String(hMax)); cap(L.chart + L.chartH / 2 + 4, "height"); cap(L.chart + L.chartH, "0");
    o.push("<g clip-path=\"url(#plot)\">");
    band(o, lane.roles, L.role, L.roleH, (k) => ROLE[k] || ["#ccc", "#000"], g, name);
    band(o, lane.phases, L.phase, L.phaseH, (k) => [PHASE[k] || "#ddd", "#222"], g, name);
    // Height: a step plot over a white strip, greyed while the node is down.
    const base = L.chart + L.chartH, Y = (v) => r1(base - v / hMax * (L.chartH - 4));
    o.push("<rect x=\"" + g.x0 + "\" y=\"" + L.chart + "\" width=\"" + (g.x1 - g.x0) + "\" height=\"" + L.chartH + "\" fill=\"#fff\" fill-opacity=\"0.75\"/>");
    const h = lane.heights;
    if (h.length) {
      let k = Math.max(0, lastAtOrBefore(h, view.t0, (s) => s[0]));
      const start = g.cx(g.sx(h[k][0]));
      let d = "M" + start + "," + Y(h[k][1]);
      for (k += 1; k < h.length; k++) {
        d += "H" + g.cx(g.sx(h[k][0])) + "V" + Y(h[k][1]);
        if (h[k][0] > view.t1) break;
      }
      d += "H" + g.cx(g.sx(model.end));
      o.push("<path d=\"" + d + "V" + base + "H" + start + "Z\" fill=\"#bbdefb\" stroke=\"none\"/>" +
        "<path d=\"" + d + "\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\"/>");
    }
    for (const s of lane.roles) {
      if ((s.kind === "down" || s.kind === "stopped") && g.seen(s.from, s.to)) {
        const a = g.cx(g.sx(s.from));
        o.push("<rect x=\"" + a + "\" y=\"" + L.chart + "\" width=\"" + r1(g.cx(g.sx(s.to)) - a) + "\" height=\"" + L.chartH +
          "\" fill=\"#616161\" fill-opacity=\"0.25\"/>");
      }
    }
    o.push("<rect x=\"" + g.x0 + "\" y=\"" + L.chart + "\" width=\"" + (g.x1 - g.x0) + "\" height=\"" + L.chartH +
      "\" fill=\"transparent\" data-lane=\"" + i + "\"/>");
    // Fault points and minor events: ticks; every other mark: a line
    // through the lane and a label on top.
    const place = rows(2, g.x1);
    const v = model.violation, marks = lane.marks.slice();
    if (v && v.node === lane.node) marks.push({ at: v.at, kind: "violation", label: "✖ violation", text: v.text });
    for (const m of marks) {
      if (m.at < view.t0 || m.at > view.t1) continue;
      const x = r1(g.sx(m.at)), c = markColour(m), tipText = esc(name + " " + secs(m.at) + ": " + m.text);
      if (m.kind === "point" || m.kind === "event") {
        const y0 = L.tick + (m.kind === "point" ? 0 : L.tickH / 2);
        o.push("<rect x=\"" + (x - 1) + "\" y=\"" + y0 + "\" width=\"2.5\" height=\"" + L.tickH / 2 + "\" fill=\"" + c + "\" data-tip=\"" + tipText + "\"/>");
        continue;
      }
      o.push("<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + (L.role - 2) + "\" y2=\"" + (L.chart + L.chartH) +
        "\" stroke=\"" + c + "\" stroke-width=\"2\"/>" +
        "<path d=\"M" + (x - 5) + "," + (L.role - 10) + "h10l-5,8z\" fill=\"" + c + "\" data-tip=\"" + tipText + "\"/>" +
        "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + (L.role - 2) + "\" y2=\"" + (L.chart + L.chartH) +
        "\" stroke=\"transparent\" stroke-width=\"7\" data-tip=\"" + tipText + "\"/>");
      const [row, lx] = place(x, width(m.label));
      if (row >= 0) {
        o.push("<text x=\"" + r1(lx) + "\" y=\"" + (L.fault + 11 + row * 12) + "\" fill=\"" + c + "\" font-weight=\"bold\" data-tip=\"" + tipText + "\">" + esc(m.label) + "</text>");
      }
    }
    o.push("</g></g>");
  }

  // Across every lane: faults on no node in particular, the violation.
  function drawOverlay(o, g) {
    const place = rows(2, g.x1);
    o.push("<g clip-path=\"url(#plot)\">");
    const label = (x, text, colour, tipText) => {
      const [row, lx] = place(x, width(text));
      if (row >= 0) o.push("<text x=\"" + r1(lx) + "\" y=\"" + (AXIS_H + 13 + row * 14) + "\" fill=\"" + colour + "\" font-weight=\"bold\" data-tip=\"" + tipText + "\">" + esc(text) + "</text>");
    };
    if (model.liveness_from < model.end && model.liveness_from >= view.t0 && model.liveness_from <= view.t1) {
      label(r1(g.sx(model.liveness_from)), "liveness window", "#a07800", esc("liveness window from " + secs(model.liveness_from)));
    }
    for (const m of model.harness) {
      if (m.at < view.t0 || m.at > view.t1) continue;
      const x = r1(g.sx(m.at)), c = markColour(m), tipText = esc("all nodes " + secs(m.at) + ": " + m.text);
      o.push("<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + AXIS_H + "\" y2=\"" + g.bottom + "\" stroke=\"" + c +
        "\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/><line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + AXIS_H + "\" y2=\"" + g.bottom +
        "\" stroke=\"transparent\" stroke-width=\"7\" data-tip=\"" + tipText + "\"/>");
      label(x, m.label, c, tipText);
    }
    const v = model.violation;
    if (v && v.at >= view.t0 && v.at <= view.t1) {
      const x = Math.min(r1(g.sx(v.at)), g.x1 - 1), tipText = esc("VIOLATION at " + secs(v.at) + ": " + v.text);
      o.push("<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + (AXIS_H - 4) + "\" y2=\"" + g.bottom + "\" stroke=\"#d50000\" stroke-width=\"3\"/>" +
        "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + AXIS_H + "\" y2=\"" + g.bottom + "\" stroke=\"transparent\" stroke-width=\"9\" data-tip=\"" + tipText + "\"/>");
      const text = "✖ " + model.outcome.toUpperCase() + " VIOLATION " + secs(v.at), w = width(text) + 10;
      const bx = x + 4 + w > g.x1 ? x - 4 - w : x + 4;
      o.push("<rect x=\"" + r1(bx) + "\" y=\"" + (AXIS_H + 2) + "\" width=\"" + r1(w) + "\" height=\"16\" rx=\"3\" fill=\"#d50000\" data-tip=\"" + tipText + "\"/>" +
        "<text x=\"" + r1(bx + 5) + "\" y=\"" + (AXIS_H + 14) + "\" fill=\"#fff\" font-weight=\"bold\" pointer-events=\"none\">" + esc(text) + "</text>");
    }
    o.push("</g>");
  }

  // The faults, restarts, exits, panics and the violation, as a table.
  function events() {
    const list = [];
    for (const m of model.harness) list.push([m.at, "all", m.label, m.text]);
    for (const lane of model.lanes) {
      for (const m of lane.marks) if (m.kind !== "point" && m.kind !== "event") list.push([m.at, "n" + lane.node, m.label, m.text]);
    }
    if (model.violation) list.push([model.violation.at, "checker", "VIOLATION", model.violation.text]);
    list.sort((a, b) => a[0] - b[0]);
    // One row per fault: a partition hits several lanes with one note.
    for (let k = list.length - 1; k > 0; k--) {
      const a = list[k - 1], b = list[k];
      if (a[0] === b[0] && a[2] === b[2] && a[3] === b[3] && a[1] !== "all") { a[1] += ", " + b[1]; list.splice(k, 1); }
    }
    const shown = list.slice(0, 1000);
    let html = "<h2>Faults, restarts, exits, panics and the verdict (" + list.length + ")</h2><table>";
    for (const e of shown) {
      html += "<tr data-at=\"" + e[0] + "\"><td class=\"t\">" + esc(secs(e[0])) + "</td><td>" + esc(e[1]) +
        "</td><td class=\"k\">" + esc(e[2]) + "</td><td>" + esc(e[3]) + "</td></tr>";
    }
    html += "</table>";
    if (list.length > shown.length) html += "<div class=\"note\">" + (list.length - shown.length) + " more not listed</div>";
    const thinned = model.lanes.filter((l) => l.thinned).map((l) => "n" + l.node + ": " + l.thinned);
    if (thinned.length) html += "<div class=\"note\">fault-point and event ticks left out to keep the file small: " + esc(thinned.join(", ")) + "</div>";
    const box = document.getElementById("events");
    box.innerHTML = html;
    box.addEventListener("click", (e) => {
      const row = e.target.closest("tr[data-at]");
      if (!row) return;
      const at = Number(row.dataset.at), half = Math.min(END, Math.max(4 * US, (view.t1 - view.t0) / 8)) / 2;
      setView(at - half, at + half);
      chart.scrollIntoView({ block: "nearest" });
    });
  }

  // Coalesces redraws (wheel and drag fire fast). A timer, not
  // requestAnimationFrame: that never fires in a page that draws no frames
  // (headless, a hidden tab), and the page must redraw there too.
  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; draw(); }, 0);
  }
  // The window shown, kept in the address as #from=S&to=S (seconds), so
  // a link can point at a moment of the run.
  function clampView(t0, t1) {
    const span = Math.min(END, Math.max(MIN_SPAN, t1 - t0));
    view.t0 = Math.max(0, Math.min(END - span, t0));
    view.t1 = view.t0 + span;
  }
  function setView(t0, t1) {
    clampView(t0, t1);
    try {
      history.replaceState(null, "", "#from=" + (view.t0 / US).toFixed(3) + "&to=" + (view.t1 / US).toFixed(3));
    } catch (e) { /* a page without history (some file viewers): no link, same view */ }
    redraw();
  }
  function timeAt(clientX) {
    const g = JSON.parse(chart.dataset.geometry), r = chart.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (clientX - r.left - g.x0) / g.pw));
    return view.t0 + f * (view.t1 - view.t0);
  }
  function zoomAt(factor, at) {
    const span = view.t1 - view.t0, next = Math.min(END, Math.max(MIN_SPAN, span * factor));
    setView(at - (at - view.t0) * next / span, at - (at - view.t0) * next / span + next);
  }
  function at(items, t) { const k = lastAtOrBefore(items, t, (s) => s.from); return k >= 0 && items[k].to > t ? items[k].label : null; }
  function chartTip(lane, t) {
    const k = lastAtOrBefore(lane.heights, t, (s) => s[0]);
    const parts = ["height " + (k >= 0 ? lane.heights[k][1] : 0)];
    const role = at(lane.roles, t), phase = at(lane.phases, t);
    if (role) parts.push(role);
    if (phase) parts.push(phase);
    return "n" + lane.node + " at " + secs(t) + ": " + parts.join(" · ");
  }

  let drag = null;
  chart.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoomAt(Math.exp(Math.max(-300, Math.min(300, e.deltaY)) * 0.002), timeAt(e.clientX));
  }, { passive: false });
  chart.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX, t0: view.t0, t1: view.t1 };
    chart.classList.add("dragging");
  });
  window.addEventListener("mouseup", () => { drag = null; chart.classList.remove("dragging"); });
  chart.addEventListener("mousemove", (e) => {
    if (drag) {
      const g = JSON.parse(chart.dataset.geometry), dt = (drag.x - e.clientX) / g.pw * (drag.t1 - drag.t0);
      setView(drag.t0 + dt, drag.t1 + dt);
      tip.hidden = true;
      return;
    }
    const el = e.target.closest("[data-tip],[data-lane]");
    if (!el) { tip.hidden = true; return; }
    tip.textContent = el.dataset.lane !== undefined ? chartTip(model.lanes[Number(el.dataset.lane)], timeAt(e.clientX)) : el.dataset.tip;
    tip.hidden = false;
    const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = (e.clientY + 16) + "px";
  });
  chart.addEventListener("mouseleave", () => { tip.hidden = true; });
  document.getElementById("zoom-in").addEventListener("click", () => zoomAt(0.5, (view.t0 + view.t1) / 2));
  document.getElementById("zoom-out").addEventListener("click", () => zoomAt(2, (view.t0 + view.t1) / 2));
  document.getElementById("zoom-reset").addEventListener("click", () => setView(0, END));
  window.addEventListener("resize", redraw);

  const linked = /from=([0-9.]+)&to=([0-9.]+)/.exec(location.hash);
  if (linked) clampView(Number(linked[1]) * US, Number(linked[2]) * US);
  banner();
  legend();
  draw();
  events();
  document.body.dataset.rendered = "ok";
})();

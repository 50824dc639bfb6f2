// A map through time (the resource view history_map, map_view.py): each
// [data-history-map] section holds its configuration as JSON. The steps of
// the chosen day (hours, in the view's zone: 23, 24 or 25) or the 31 days
// from it are walked with a slider and a play button; each step is one
// request to history_snapshot (the portal aggregates; no raw rows come
// here). Features are circles coloured and sized by their value; the same
// values fill a table for screen readers. Leaflet is the global `L` of
// ckanext-dataviz's map bundle, included before this script. Every text
// from data goes through textContent, never innerHTML.
(function () {
  "use strict";

  var PALETTE = ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"];
  var PLAY_DELAY_MS = 1000;
  var HOUR_MS = 3600000;

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) {
      return values[key] === undefined ? m : String(values[key]);
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // The offset of zone `tz` at the instant `ms`, in milliseconds.
  function offsetAt(ms, tz) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    var wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24,
      +parts.minute, +parts.second);
    return wall - Math.floor(ms / 1000) * 1000;
  }

  // The instant of the local wall time (day overflow allowed) in zone `tz`.
  function localToUtc(y, m, d, h, tz) {
    var guess = Date.UTC(y, m - 1, d, h);
    var first = guess - offsetAt(guess, tz);
    var second = guess - offsetAt(first, tz);
    return offsetAt(second, tz) === offsetAt(first, tz) ? second : first;
  }

  // A moment inside each step: the middle of each local hour of the day, or
  // noon of each of 31 days.
  function moments(day, step, tz) {
    var ymd = day.split("-").map(Number);
    var out = [];
    if (step === "day") {
      for (var i = 0; i < 31; i++) out.push(localToUtc(ymd[0], ymd[1], ymd[2] + i, 12, tz));
      return out;
    }
    var start = localToUtc(ymd[0], ymd[1], ymd[2], 0, tz);
    var end = localToUtc(ymd[0], ymd[1], ymd[2] + 1, 0, tz);
    for (var t = start; t < end; t += HOUR_MS) out.push(t + HOUR_MS / 2);
    return out;
  }

  function start(root) {
    var cfg = JSON.parse(root.querySelector("[data-history-map-config]").textContent);
    var t = cfg.messages || {};
    var form = root.querySelector("[data-history-map-form]");
    var slider = root.querySelector("[data-history-map-slider]");
    var now = root.querySelector("[data-history-map-now]");
    var play = root.querySelector("[data-history-map-play]");
    var status = root.querySelector("[data-history-map-status]");
    var legend = root.querySelector("[data-history-map-legend]");
    var table = root.querySelector("[data-history-map-table]");
    var caption = root.querySelector("[data-history-map-caption]");
    var canvas = root.querySelector("[data-history-map-canvas]");
    var numbers = new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: 2 });
    // Hours say their offset: the hour that comes twice in autumn is two steps.
    var stepLabel = {
      hour: { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
              timeZoneName: "short" },
      day: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
    };

    canvas.setAttribute("tabindex", "0");
    canvas.setAttribute("role", "application");
    var map = L.map(canvas, { keyboard: true, worldCopyJump: true, minZoom: 1, maxZoom: 19 });
    if (cfg.basemap && cfg.basemap.url) {
      L.tileLayer(cfg.basemap.url, { attribution: cfg.basemap.attribution || "", maxZoom: 19 }).addTo(map);
    }
    map.setView([20, 0], 2);
    var dots = L.layerGroup().addTo(map);
    var state = { steps: [], index: 0, cache: {}, lo: null, hi: null, fitted: false, token: 0, playing: false };

    function chosen() {
      var data = new FormData(form);
      return { field: data.get("field") || cfg.field, fn: data.get("function") || cfg.function,
               step: data.get("step") || cfg.step, day: data.get("day") || cfg.day };
    }

    function fieldTitle(name) {
      var f = (cfg.fields || []).filter(function (x) { return x.name === name; })[0];
      return f ? f.title + (f.unit ? " (" + f.unit + ")" : "") : name;
    }

    function label(ms, step) {
      return new Intl.DateTimeFormat(cfg.lang, Object.assign({ timeZone: cfg.tz }, stepLabel[step]))
        .format(new Date(ms));
    }

    function colour(v) {
      if (v === null || v === undefined || state.hi === null) return "#999999";
      var share = state.hi > state.lo ? (v - state.lo) / (state.hi - state.lo) : 1;
      return PALETTE[Math.min(PALETTE.length - 1, Math.floor(share * PALETTE.length))];
    }

    function radius(v) {
      if (v === null || v === undefined || state.hi === null) return 3;
      var share = state.hi > state.lo ? (v - state.lo) / (state.hi - state.lo) : 1;
      return 4 + 14 * Math.sqrt(Math.max(0, share));
    }

    function errorText(answer) {
      if (!answer || !answer.error) return t.network;
      return Object.keys(answer.error).filter(function (k) { return k !== "__type"; })
        .map(function (k) {
          var v = answer.error[k];
          return k === "message" ? String(v) : k + ": " + (Array.isArray(v) ? v.join(" ") : String(v));
        }).join("; ") || t.network;
    }

    function fetchStep(index, c) {
      var key = [c.field, c.fn, c.step, state.steps[index]].join("|");
      if (state.cache[key]) return Promise.resolve(state.cache[key]);
      var params = new URLSearchParams({
        resource_id: cfg.resource_id, time: new Date(state.steps[index]).toISOString(),
        step: c.step, field: c.field, function: c.fn, tz: cfg.tz });
      return fetch(cfg.api + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().catch(function () { return null; }).then(function (answer) {
            if (!response.ok || !answer || !answer.success) throw new Error(errorText(answer));
            state.cache[key] = answer.result;
            return answer.result;
          });
        }, function () { throw new Error(t.network); });
    }

    function drawLegend(c) {
      legend.textContent = "";
      if (state.hi === null) return;
      legend.appendChild(document.createTextNode(fill(t.legend, {
        field: fieldTitle(c.field), min: numbers.format(state.lo), max: numbers.format(state.hi) }) + " "));
      PALETTE.forEach(function (colourOf, i) {
        var low = state.lo + (state.hi - state.lo) * i / PALETTE.length;
        var swatch = el("span", { "class": "history-map-swatch", "aria-hidden": "true" });
        swatch.style.background = colourOf;
        legend.appendChild(swatch);
        legend.appendChild(document.createTextNode("≥ " + numbers.format(low) + " "));
      });
    }

    function render(result, c) {
      var when = label(Date.parse(result.time), c.step);
      result.features.forEach(function (f) {
        if (f.value === null) return;
        state.lo = state.lo === null ? f.value : Math.min(state.lo, f.value);
        state.hi = state.hi === null ? f.value : Math.max(state.hi, f.value);
      });
      dots.clearLayers();
      var bounds = L.latLngBounds([]);
      var unplaced = 0;
      result.features.forEach(function (f) {
        var name = f.name || f.id;
        var shown = f.value === null ? t.no_value : numbers.format(f.value);
        if (f.lat === null || f.lon === null || f.lat === undefined || f.lon === undefined) {
          unplaced += 1;
          return;
        }
        var dot = L.circleMarker([f.lat, f.lon], { radius: radius(f.value), color: "#333333", weight: 1,
          fillColor: colour(f.value), fillOpacity: 0.85 });
        dot.bindTooltip(name + " : " + shown);
        dot.addTo(dots);
        bounds.extend([f.lat, f.lon]);
      });
      if (!state.fitted && bounds.isValid()) {
        map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
        state.fitted = true;
      }
      var body = table.tBodies[0];
      body.textContent = "";
      result.features.forEach(function (f) {
        var row = el("tr");
        row.appendChild(el("th", { scope: "row" }, f.name || f.id));
        row.appendChild(el("td", {}, f.value === null ? t.no_value : numbers.format(f.value)));
        body.appendChild(row);
      });
      caption.textContent = fill(t.caption, { field: fieldTitle(c.field), time: when,
        "function": (t.functions || {})[c.fn] || c.fn });
      canvas.setAttribute("aria-label", fill(t.map_label, { field: fieldTitle(c.field), time: when }));
      now.textContent = when;
      slider.setAttribute("aria-valuetext", when);
      var line = result.features.length ? fill(t.ready, { time: when, count: result.features.length })
        : fill(t.empty, { time: when });
      if (unplaced) line += " " + fill(t.no_position, { n: unplaced });
      // While playing, the status follows the steps without being read out.
      status.setAttribute("aria-live", state.playing ? "off" : "polite");
      status.textContent = line;
      drawLegend(c);
      root.dataset.state = "ready";
      root.dataset.features = String(result.features.length);
    }

    function show(index) {
      var c = chosen();
      var token = ++state.token;
      state.index = index;
      slider.value = String(index);
      root.dataset.state = "loading";
      root.dataset.step = String(index);
      var when = label(state.steps[index], c.step);
      slider.setAttribute("aria-valuetext", when);
      if (!state.playing) status.textContent = fill(t.loading, { time: when });
      return fetchStep(index, c).then(function (result) {
        if (token === state.token) render(result, c);
      }, function (error) {
        if (token !== state.token) return;
        root.dataset.state = "error";
        status.textContent = fill(t.error, { reason: error.message });
        stop();
      });
    }

    function reset() {
      var c = chosen();
      state.steps = moments(c.day, c.step, cfg.tz);
      state.lo = state.hi = null;
      slider.max = String(state.steps.length - 1);
      return show(0);
    }

    function stop() {
      state.playing = false;
      play.textContent = t.play;
    }

    function next() {
      if (!state.playing) return;
      var index = state.index + 1;
      if (index >= state.steps.length) { stop(); return; }
      show(index).then(function () {
        if (state.playing) window.setTimeout(next, PLAY_DELAY_MS);
      });
    }

    play.addEventListener("click", function () {
      if (state.playing) { stop(); return; }
      state.playing = true;
      play.textContent = t.pause;
      if (state.index >= state.steps.length - 1) state.index = -1;
      next();
    });
    slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
    form.addEventListener("submit", function (event) { event.preventDefault(); stop(); reset(); });
    ["field", "function", "step"].forEach(function (name) {
      form.elements[name].addEventListener("change", function () { stop(); reset(); });
    });
    reset();
  }

  function startAll() {
    document.querySelectorAll("[data-history-map]").forEach(function (root) {
      if (root.dataset.started) return;
      root.dataset.started = "1";
      try {
        start(root);
      } catch (error) {
        root.dataset.state = "error";
        var status = root.querySelector("[data-history-map-status]");
        if (status) status.textContent = String(error && error.message ? error.message : error);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
})();

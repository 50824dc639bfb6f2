// History charts (`dataviz_history` views): a period, an aggregation and
// features chosen by the reader, points from ckanext-history's history_query
// (GET, the user's cookie), drawn like the other charts. Times are those of
// the chart's zone (`data-tz`, sent as `tz`): the date inputs hold its local
// times (sent without offset, read by history_query in that zone), the
// presets send exact instants, the axis and tooltips show its local times.
import { copyButtons, format, strings } from "./_a11y.js";
import { draw, fail, fetchData } from "./_draw.js";

const PRESETS = { "24h": 1, "7d": 7, "30d": 30, "1y": 365 };
const MAX_PAGES = 20;
// At most this many features side by side: more lines than that are not read.
export const MAX_COMPARE = 5;

function iso(date) {
  return date.toISOString().slice(0, 19);
}

// The local time of `date` in zone `tz`, as a datetime-local input holds it.
export function localInput(date, tz) {
  const parts = {};
  new Intl.DateTimeFormat("en-GB", {
    timeZone: tz || "UTC", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).formatToParts(date).forEach((p) => { parts[p.type] = p.value; });
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

// A time of the answer (ISO 8601 with its offset) as the reader reads it in
// zone `tz`, in the page's language, with the offset (the hour that comes
// twice in autumn shows as two distinct times).
export function zonedLabel(value, tz, lang) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const text = new Intl.DateTimeFormat(lang || undefined, {
    timeZone: tz || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).format(date);
  const offset = typeof value === "string" ? (value.match(/([+-]\d\d:\d\d|Z)$/) || [""])[0] : "";
  return offset ? `${text} (${offset === "Z" ? "+00:00" : offset})` : text;
}

export function toAnswer(records, params, truncated) {
  const valueKeys = new Set();
  records.forEach((r) => Object.keys(r).forEach((k) => { if (k !== "time" && k !== "feature") valueKeys.add(k); }));
  const keys = Array.from(valueKeys);
  const series = new Map();
  // With a zone, x is the instant (ECharts reads whole-hour offsets only);
  // labels show the answer's own local time and offset.
  const originals = new Map();
  const xOf = (time) => {
    if (!params.tz) return time;
    const instant = Date.parse(time);
    if (Number.isNaN(instant)) return time;
    originals.set(instant, time);
    return instant;
  };
  records.forEach((r) => {
    keys.forEach((k) => {
      if (r[k] === undefined || r[k] === null || typeof r[k] === "string") return;
      const id = r.feature !== undefined && r.feature !== null ? String(r.feature) : "";
      const prefix = id && params.names && params.names.get(id) ? params.names.get(id) : id;
      const name = prefix ? (keys.length > 1 ? `${prefix} · ${k}` : prefix) : k;
      if (!series.has(name)) series.set(name, { name, points: [] });
      series.get(name).points.push([xOf(r.time), typeof r[k] === "boolean" ? Number(r[k]) : r[k]]);
    });
  });
  // All features together: their total per time (the feed's `across` is
  // sum: each feature's value of the bucket, added up), or one series
  // history_query already averaged across them.
  if (params.overall) {
    const byTime = new Map();
    series.forEach((s) => s.points.forEach(([x, y]) => {
      byTime.set(x, params.overall.across === "sum" && byTime.has(x) ? byTime.get(x) + y : y);
    }));
    const points = Array.from(byTime.entries()).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    series.clear();
    if (points.length) series.set(params.overall.name, { name: params.overall.name, points });
  }
  return {
    fields: [{ id: "time", type: "timestamp", axis: "x" }].concat(keys.map((k) => ({ id: k, type: "numeric", axis: "y" }))),
    series: Array.from(series.values()),
    truncated,
    chart: { chart_type: "line", x_label: params.xLabel || "time", y_label: params.yLabel || keys.join(", ") },
    timeZone: params.tz || "",
    lang: params.lang || "",
    original: (value) => (originals.has(value) ? originals.get(value) : value),
    label: params.tz ? (value) => zonedLabel(originals.has(value) ? originals.get(value) : value,
      params.tz, params.lang) : null,
  };
}

// The numeric fields of the feed ({name, title, unit, across}), from the page.
function fieldConfig(root) {
  const node = root.querySelector("[data-dataviz-history-fields]");
  try {
    const list = node ? JSON.parse(node.textContent) : [];
    return Array.isArray(list) ? list : [];
  } catch (e) {
    return [];
  }
}

// The chart's state in the page's address (field, value, aggregation,
// features, period preset or local dates), so that a link reopens the same
// chart; the embed code carries it too. Other parameters (tz) are kept.
const STATE_KEYS = ["field", "function", "aggregate", "features", "period", "start", "end"];

export function stateOf(form) {
  const out = {};
  ["field", "function", "aggregate", "features"].forEach((name) => {
    const el = form.querySelector(`[name="${name}"]`);
    if (el && el.value.trim()) out[name] = el.value.trim();
  });
  if (form.dataset.preset) out.period = form.dataset.preset;
  else {
    ["start", "end"].forEach((name) => {
      const el = form.querySelector(`[name="${name}"]`);
      if (el && el.value) out[name] = el.value;
    });
  }
  return out;
}

function saveState(form) {
  const state = stateOf(form);
  const url = new URL(window.location.href);
  STATE_KEYS.forEach((key) => url.searchParams.delete(key));
  Object.entries(state).forEach(([key, value]) => url.searchParams.set(key, value));
  try { window.history.replaceState(window.history.state, "", url.toString()); } catch (e) { /* a sandboxed frame */ }
  document.querySelectorAll("[data-dataviz-embed-code]").forEach((code) => {
    code.value = code.value.replace(/src="([^"?]*)(\?[^"]*)?"/, (m, base) => {
      const embed = new URL(base, window.location.href);
      Object.entries(state).forEach(([key, value]) => embed.searchParams.set(key, value));
      return `src="${embed.toString().replace(/&/g, "&amp;")}"`;
    });
  });
}

// Puts a saved state (the page's query string) back into the form; says
// whether it held a period.
function restoreState(form) {
  const query = new URLSearchParams(window.location.search);
  ["field", "function", "aggregate", "features"].forEach((name) => {
    const el = form.querySelector(`[name="${name}"]`);
    const value = query.get(name);
    if (!el || value === null) return;
    if (el.tagName === "SELECT" && !Array.from(el.options).some((o) => o.value === value)) return;
    el.value = value;
  });
  const local = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/;
  if (local.test(query.get("start") || "") && local.test(query.get("end") || "")) {
    form.querySelector('[name="start"]').value = query.get("start").slice(0, 16);
    form.querySelector('[name="end"]').value = query.get("end").slice(0, 16);
    return "dates";
  }
  return PRESETS[query.get("period")] ? query.get("period") : "";
}

async function load(figure, form) {
  const t = strings();
  saveState(form);
  const get = (name) => { const el = form.querySelector(`[name="${name}"]`); return el ? el.value.trim() : ""; };
  // A preset's exact instant, else the local time typed (history_query
  // reads it in the zone, and names the field of a time that does not exist
  // or happens twice there).
  const time = (name) => {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el || !el.value) return "";
    return el.dataset.exact || (el.value.length === 16 ? `${el.value}:00` : el.value);
  };
  const aggregate = get("aggregate") || "none";
  const tz = figure.dataset.tz || "UTC";
  // The field drawn, with its title, unit and how features add up (the
  // feed's field configuration), else the view's fields as named.
  const config = fieldConfig(figure.closest("[data-dataviz-history-root]") || document);
  const field = config.find((f) => f.name === get("field")) || config[0] || null;
  let features = get("features") ? get("features").split(",").map((s) => s.trim()).filter(Boolean) : [];
  const note = form.querySelector("[data-dataviz-history-note]");
  if (note) note.textContent = "";
  if (features.length > MAX_COMPARE) {
    features = features.slice(0, MAX_COMPARE);
    if (note) note.textContent = format(t.too_many_features, { n: MAX_COMPARE });
  }
  const params = {
    resource_id: figure.dataset.resourceId,
    start: time("start"),
    end: time("end"),
    tz,
    aggregate,
    features,
    fields: field ? [field.name]
      : (figure.dataset.fields ? figure.dataset.fields.split(",").map((s) => s.trim()).filter(Boolean) : []),
    limit: figure.dataset.pageSize || "1000",
  };
  if (aggregate !== "none") params.functions = [get("function") || "avg"];
  // No feature chosen: one series for all of them, as the field says.
  let overall = null;
  if (!features.length && aggregate !== "none") {
    const across = field && field.across === "sum" ? "sum" : "avg";
    overall = { across, name: across === "sum" ? t.across_sum || "Total" : t.across_avg || "Average" };
    params.per_feature = across === "sum" ? "true" : "false";
  }
  const yLabel = field ? (field.unit ? `${field.title} (${field.unit})` : field.title) : "";
  const records = [];
  let cursor = null;
  let pages = 0;
  try {
    do {
      const page = await fetchData(figure.dataset.endpoint, cursor ? Object.assign({}, params, { cursor }) : params);
      records.push(...page.records);
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor && pages < MAX_PAGES);
    const answer = toAnswer(records, { xLabel: t.period || "time", yLabel, overall, tz,
      lang: figure.dataset.lang, names: figure.datavizNames }, Boolean(cursor));
    draw(figure, answer, { title: figure.dataset.title || "" });
    figure.datavizAnswer = answer;
    if (!records.length) {
      const caption = figure.querySelector(".dataviz-chart-caption");
      if (caption) caption.textContent = t.no_history || "";
    }
  } catch (error) {
    fail(figure, error);
  }
}

// The features' names: the last value of the feed's label field of each
// feature over the hot retention's days (one history_query: a row per
// feature and month), else their ids. A Map id -> name.
async function loadNames(figure, root) {
  const names = new Map();
  const labelField = figure.dataset.labelField || "";
  const config = fieldConfig(root);
  const field = labelField || (config[0] && config[0].name);
  if (!field) return names;
  const end = new Date();
  const fn = labelField ? "last" : "count";
  const params = {
    resource_id: figure.dataset.resourceId, start: `${iso(new Date(end.getTime() - 35 * 86400000))}Z`,
    end: `${iso(end)}Z`, tz: figure.dataset.tz || "UTC", aggregate: "month", functions: [fn],
    fields: [field], per_feature: "true", limit: "1000",
  };
  let cursor = null;
  let pages = 0;
  do {
    const page = await fetchData(figure.dataset.endpoint, cursor ? Object.assign({}, params, { cursor }) : params);
    page.records.forEach((r) => {
      if (r.feature === undefined || r.feature === null) return;
      const id = String(r.feature);
      const value = r[`${field}_${fn}`];
      if (labelField && typeof value === "string" && value.trim()) names.set(id, value.trim());
      else if (!names.has(id)) names.set(id, id);
    });
    cursor = page.next_cursor;
    pages += 1;
  } while (cursor && pages < MAX_PAGES);
  return names;
}

function optionText(id, name) {
  return name && name !== id ? `${name} (${id})` : id;
}

// The features to compare, chosen by name: a search input with the names as
// suggestions (a datalist), an Add button (or Enter), the chosen ones as
// buttons that remove them. Their ids go in the form's hidden `features`.
function picker(figure, form, names, redraw) {
  const t = strings();
  const hidden = form.querySelector('[name="features"]');
  const pick = form.querySelector("[data-dataviz-history-pick]");
  const list = form.querySelector("[data-dataviz-history-names]");
  const chosen = form.querySelector("[data-dataviz-history-chosen]");
  const note = form.querySelector("[data-dataviz-history-note]");
  if (!hidden || !pick || !chosen) return () => {};
  const ids = () => hidden.value.split(",").map((s) => s.trim()).filter(Boolean);
  const say = (text) => { if (note) note.textContent = text; };
  const render = () => {
    chosen.textContent = "";
    ids().forEach((id) => {
      const item = document.createElement("li");
      item.className = "list-inline-item";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-secondary";
      const name = names.get(id) || id;
      button.textContent = `${name} \u00d7`;
      button.setAttribute("aria-label", format(t.remove_feature || "Remove %(name)s", { name }));
      button.addEventListener("click", () => {
        hidden.value = ids().filter((other) => other !== id).join(",");
        render();
        pick.focus();
        redraw();
      });
      item.appendChild(button);
      chosen.appendChild(item);
    });
  };
  const resolve = (text) => {
    const lower = text.toLowerCase();
    const entries = Array.from(names.entries());
    const exact = entries.find(([id, name]) => optionText(id, name) === text || id === text
      || name.toLowerCase() === lower);
    if (exact) return exact[0];
    const some = entries.filter(([id, name]) => name.toLowerCase().includes(lower)
      || id.toLowerCase().includes(lower));
    return some.length === 1 ? some[0][0] : null;
  };
  const add = () => {
    const text = pick.value.trim();
    if (!text) return;
    const id = resolve(text);
    if (!id) { say(format(t.no_feature, { name: text })); return; }
    if (!ids().includes(id)) {
      if (ids().length >= MAX_COMPARE) { say(format(t.too_many_features, { n: MAX_COMPARE })); return; }
      hidden.value = ids().concat(id).join(",");
    }
    pick.value = "";
    say("");
    render();
    redraw();
  };
  const button = form.querySelector("[data-dataviz-history-add]");
  if (button) button.addEventListener("click", add);
  pick.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); add(); }
  });
  return () => {
    if (list) {
      list.textContent = "";
      names.forEach((name, id) => {
        const option = document.createElement("option");
        option.value = optionText(id, name);
        list.appendChild(option);
      });
    }
    render();
  };
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  // A text that a spreadsheet would read as a formula is quoted as text.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r;]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// The series drawn, as CSV: a row per time (ISO 8601 with its offset in the
// chart's zone), a column per series, named as in the legend.
export function answerCsv(answer) {
  const times = new Map();
  answer.series.forEach((s, i) => s.points.forEach(([x, y]) => {
    if (!times.has(x)) times.set(x, new Array(answer.series.length).fill(null));
    times.get(x)[i] = y;
  }));
  const head = [answer.timeZone ? `time (${answer.timeZone})` : "time"].concat(answer.series.map((s) => s.name));
  const rows = Array.from(times.entries()).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([x, values]) => [answer.original ? answer.original(x) : x].concat(values));
  return [head].concat(rows).map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function save(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function fileName(figure, ext) {
  const base = (figure.dataset.title || "history").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase() || "history";
  return `${base}.${ext}`;
}

// The chart as PNG: ECharts draws SVG here; its image is painted on a
// canvas at twice the size, on white.
function savePng(figure) {
  const chart = figure.querySelector(".dataviz-chart-canvas").datavizChart;
  if (!chart) return;
  const image = new Image();
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = chart.getWidth() * 2;
    canvas.height = chart.getHeight() * 2;
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => { if (blob) save(blob, fileName(figure, "png")); }, "image/png");
  };
  image.src = chart.getDataURL({ type: "svg", backgroundColor: "#fff" });
}

function exports(root, figure) {
  const csv = root.querySelector("[data-dataviz-history-csv]");
  if (csv) csv.addEventListener("click", () => {
    if (!figure.datavizAnswer) return;
    save(new Blob(["\ufeff", answerCsv(figure.datavizAnswer)], { type: "text/csv;charset=utf-8" }),
      fileName(figure, "csv"));
  });
  const png = root.querySelector("[data-dataviz-history-png]");
  if (png) png.addEventListener("click", () => savePng(figure));
}

function setup(root) {
  const figure = root.querySelector("[data-dataviz-history]");
  const form = root.querySelector("[data-dataviz-history-form]");
  if (!figure || !form) return;
  const setPreset = (key) => {
    form.dataset.preset = PRESETS[key] ? key : "7d";
    const days = PRESETS[key] || 7;
    const end = new Date();
    const start = new Date(end.getTime() - days * 86400000);
    [["start", start], ["end", end]].forEach(([name, date]) => {
      const input = form.querySelector(`[name="${name}"]`);
      input.value = localInput(date, figure.dataset.tz);
      input.dataset.exact = `${iso(date)}Z`;
    });
  };
  // A time typed by the reader is a local time of the chart's zone.
  form.querySelectorAll('[name="start"], [name="end"]').forEach((input) => {
    input.addEventListener("input", () => {
      form.querySelectorAll('[name="start"], [name="end"]').forEach((both) => { delete both.dataset.exact; });
      delete form.dataset.preset;
    });
  });
  form.querySelectorAll("[data-preset]").forEach((button) => {
    button.addEventListener("click", () => { setPreset(button.dataset.preset); load(figure, form); });
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); load(figure, form); });
  exports(root, figure);
  const restored = restoreState(form);
  if (restored !== "dates") setPreset(restored || figure.dataset.preset || "7d");
  const names = new Map();
  figure.datavizNames = names;
  const filled = picker(figure, form, names, () => load(figure, form));
  filled();
  // The names first (legends name the compared features), the chart anyway.
  loadNames(figure, root)
    .then((found) => { found.forEach((name, id) => names.set(id, name)); filled(); })
    .catch(() => {})
    .then(() => load(figure, form));
}

function start() {
  document.querySelectorAll("[data-dataviz-history-root]").forEach(setup);
  copyButtons(document);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

export { format };

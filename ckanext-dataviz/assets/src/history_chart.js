// History charts (`dataviz_history` views): a period, an aggregation and
// features chosen by the reader, points from ckanext-history's history_query
// (GET, the user's cookie), drawn like the other charts.
import { copyButtons, format, strings } from "./_a11y.js";
import { draw, fail, fetchData } from "./_draw.js";

const PRESETS = { "24h": 1, "7d": 7, "30d": 30, "1y": 365 };
const MAX_PAGES = 20;

function iso(date) {
  return date.toISOString().slice(0, 19);
}

function localInput(date) {
  return iso(date).slice(0, 16);
}

export function toAnswer(records, params, truncated) {
  const valueKeys = new Set();
  records.forEach((r) => Object.keys(r).forEach((k) => { if (k !== "time" && k !== "feature") valueKeys.add(k); }));
  const keys = Array.from(valueKeys);
  const series = new Map();
  records.forEach((r) => {
    keys.forEach((k) => {
      if (r[k] === undefined || r[k] === null || typeof r[k] === "string") return;
      const prefix = r.feature !== undefined && r.feature !== null ? String(r.feature) : "";
      const name = prefix ? (keys.length > 1 ? `${prefix} · ${k}` : prefix) : k;
      if (!series.has(name)) series.set(name, { name, points: [] });
      series.get(name).points.push([r.time, typeof r[k] === "boolean" ? Number(r[k]) : r[k]]);
    });
  });
  return {
    fields: [{ id: "time", type: "timestamp", axis: "x" }].concat(keys.map((k) => ({ id: k, type: "numeric", axis: "y" }))),
    series: Array.from(series.values()),
    truncated,
    chart: { chart_type: "line", x_label: params.xLabel || "time", y_label: keys.join(", ") },
  };
}

async function load(figure, form) {
  const t = strings();
  const get = (name) => { const el = form.querySelector(`[name="${name}"]`); return el ? el.value.trim() : ""; };
  const start = get("start") ? new Date(get("start") + "Z") : null;
  const end = get("end") ? new Date(get("end") + "Z") : null;
  const aggregate = get("aggregate") || "none";
  const params = {
    resource_id: figure.dataset.resourceId,
    start: start ? iso(start) : "",
    end: end ? iso(end) : "",
    aggregate,
    features: get("features") ? get("features").split(",").map((s) => s.trim()).filter(Boolean) : [],
    fields: figure.dataset.fields ? figure.dataset.fields.split(",").map((s) => s.trim()).filter(Boolean) : [],
    limit: figure.dataset.pageSize || "1000",
  };
  if (aggregate !== "none") params.functions = [get("function") || "avg"];
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
    const answer = toAnswer(records, { xLabel: t.period || "time" }, Boolean(cursor));
    draw(figure, answer, { title: figure.dataset.title || "" });
    if (!records.length) {
      const caption = figure.querySelector(".dataviz-chart-caption");
      if (caption) caption.textContent = t.no_history || "";
    }
  } catch (error) {
    fail(figure, error);
  }
}

function setup(root) {
  const figure = root.querySelector("[data-dataviz-history]");
  const form = root.querySelector("[data-dataviz-history-form]");
  if (!figure || !form) return;
  const setPreset = (key) => {
    const days = PRESETS[key] || 7;
    const end = new Date();
    const start = new Date(end.getTime() - days * 86400000);
    form.querySelector('[name="start"]').value = localInput(start);
    form.querySelector('[name="end"]').value = localInput(end);
  };
  form.querySelectorAll("[data-preset]").forEach((button) => {
    button.addEventListener("click", () => { setPreset(button.dataset.preset); load(figure, form); });
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); load(figure, form); });
  setPreset(figure.dataset.preset || "7d");
  load(figure, form);
}

function start() {
  document.querySelectorAll("[data-dataviz-history-root]").forEach(setup);
  copyButtons(document);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

export { format };

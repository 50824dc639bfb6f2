// Drawing a chart answer ({fields, series, truncated, chart}) into a <figure>
// holding .dataviz-chart-canvas, .dataviz-chart-caption and .dataviz-chart-table.
import echarts from "./_echarts.js";
import { buildTable, format, keyboard, pointCount, strings, summary } from "./_a11y.js";
import { chartOption } from "./_chart_option.js";

const charts = new WeakMap();

export async function fetchData(endpoint, params) {
  const url = new URL(endpoint, window.location.href);
  Object.entries(params).forEach(([k, v]) => {
    if (Array.isArray(v)) v.forEach((item) => url.searchParams.append(k, item));
    else if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  });
  const response = await fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok || !body || !body.success) {
    const error = body && body.error ? body.error : { message: response.statusText };
    const parts = Object.entries(error).filter(([k]) => k !== "__type")
      .map(([k, v]) => (k === "message" ? String(v) : `${k}: ${Array.isArray(v) ? v.join(" ") : v}`));
    const err = new Error(parts.join("; ") || String(response.status));
    err.fields = error;
    throw err;
  }
  return body.result;
}

function infoOf(answer, extra) {
  const chart = answer.chart || {};
  const x = answer.fields.find((f) => f.axis === "x") || { id: "" };
  const ys = answer.fields.filter((f) => f.axis === "y").map((f) => f.id);
  return {
    type: chart.chart_type || "line",
    title: extra.title || chart.title || "",
    xLabel: chart.x_label || x.id,
    yLabel: chart.y_label || ys.join(", "),
    colours: chart.colours || [],
  };
}

export function draw(figure, answer, extra) {
  const t = strings();
  const canvas = figure.querySelector(".dataviz-chart-canvas");
  const caption = figure.querySelector(".dataviz-chart-caption");
  const info = infoOf(answer, extra || {});
  let chart = charts.get(canvas);
  if (!chart) {
    chart = echarts.init(canvas, null, { renderer: "svg" });
    charts.set(canvas, chart);
    canvas.datavizChart = chart; // for tests and other scripts of the page
    keyboard(canvas, chart, figure, () => (charts.get(canvas).__points || 0));
    window.addEventListener("resize", () => chart.resize());
  }
  chart.__points = answer.series.length ? answer.series[0].points.length : 0;
  chart.setOption(chartOption(answer, info, t), true);
  const text = pointCount(answer) ? summary(t, answer, info) : (t.empty || "");
  canvas.setAttribute("aria-label", text);
  if (caption) caption.textContent = text;
  const holder = figure.querySelector(".dataviz-chart-table");
  if (holder) buildTable(holder, answer, info, t);
  figure.dataset.state = "ready";
  figure.dataset.series = String(answer.series.length);
  figure.dataset.points = String(pointCount(answer));
}

export function fail(figure, error) {
  const t = strings();
  const caption = figure.querySelector(".dataviz-chart-caption");
  if (caption) caption.textContent = format(t.error || "%(message)s", { message: error.message });
  figure.dataset.state = "error";
}


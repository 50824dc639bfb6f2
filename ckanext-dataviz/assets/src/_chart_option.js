// The ECharts option of a chart answer ({fields, series: [{name, points}], ...}).
import { label, summary } from "./_a11y.js";

function xKind(answer) {
  const x = answer.fields.find((f) => f.axis === "x") || {};
  const type = String(x.type || "text");
  if (/^(timestamp|timestamptz|date)$/.test(type)) return "time";
  if (/^(int|int2|int4|int8|float|float4|float8|numeric|real|double precision|bigint|smallint|integer)$/.test(type)) return "value";
  return "category";
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A time axis read in the answer's zone (history charts): axis labels and
// tooltips show local times of that zone, not of the browser.
function zoned(base, answer) {
  const format = new Intl.DateTimeFormat(answer.lang || undefined, {
    timeZone: answer.timeZone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  base.xAxis.axisLabel = { formatter: (value) => format.format(new Date(value)) };
  base.tooltip.formatter = (params) => {
    const list = [].concat(params);
    if (!list.length) return "";
    const head = answer.label ? answer.label(list[0].value[0]) : String(list[0].value[0]);
    return [escapeHtml(head)].concat(list.map((p) =>
      `${p.marker || ""}${escapeHtml(p.seriesName)}: ${escapeHtml(p.value[1] === null ? "" : p.value[1])}`)).join("<br>");
  };
}

export function chartOption(answer, info, t) {
  const type = info.type;
  const base = {
    animation: false,
    aria: { enabled: true, label: { description: summary(t, answer, info) } },
    title: info.title ? { text: info.title, left: "center", textStyle: { fontSize: 14 } } : undefined,
    tooltip: { trigger: type === "pie" || type === "scatter" ? "item" : "axis" },
    legend: { type: "scroll", bottom: 0, data: [] },
  };
  if (info.colours && info.colours.length) base.color = info.colours;
  if (type === "pie") {
    const points = answer.series.length ? answer.series[0].points : [];
    base.legend.data = points.map(([x]) => label(x));
    base.series = [{
      type: "pie", name: answer.series.length ? answer.series[0].name : "",
      radius: "60%", data: points.map(([x, y]) => ({ name: label(x), value: y })),
    }];
    return base;
  }
  let kind = xKind(answer);
  if (type === "bar" && kind !== "category") kind = "category";
  base.legend.data = answer.series.map((s) => s.name);
  base.grid = { left: 60, right: 24, top: info.title ? 40 : 24, bottom: 60, containLabel: true };
  base.xAxis = { type: kind, name: info.xLabel, nameLocation: "middle", nameGap: 28 };
  if (kind === "time" && answer.timeZone) zoned(base, answer);
  base.yAxis = { type: "value", name: info.yLabel, nameLocation: "middle", nameGap: 44 };
  let categories = null;
  if (kind === "category") {
    categories = [];
    const seen = new Set();
    answer.series.forEach((s) => s.points.forEach(([x]) => {
      const key = label(x);
      if (!seen.has(key)) { seen.add(key); categories.push(key); }
    }));
    base.xAxis.data = categories;
  }
  base.series = answer.series.map((s) => {
    let data;
    if (categories) {
      const byX = new Map(s.points.map(([x, y]) => [label(x), y]));
      data = categories.map((c) => (byX.has(c) ? byX.get(c) : null));
    } else {
      data = s.points;
    }
    const out = { name: s.name, type: type === "area" ? "line" : type, data };
    if (type === "area") out.areaStyle = {};
    if (type === "line" || type === "area") { out.showSymbol = data.length <= 60; out.connectNulls = false; }
    if (type === "scatter") out.symbolSize = 6;
    return out;
  });
  return base;
}

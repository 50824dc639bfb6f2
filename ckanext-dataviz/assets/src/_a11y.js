// Text alternatives of a chart: its summary (figcaption, aria label), its data
// as an HTML table, keyboard moves between its points. Every text from data goes
// through textContent, never innerHTML.

export function strings() {
  const node = document.getElementById("dataviz-i18n");
  try {
    return node ? JSON.parse(node.textContent) : {};
  } catch (e) {
    return {};
  }
}

export function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (m, key) =>
    values[key] === undefined ? m : String(values[key]));
}

export function pointCount(answer) {
  return answer.series.reduce((n, s) => n + s.points.length, 0);
}

export function label(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /^\d{4}-\d\d-\d\dT00:00:00$/.test(text) ? text.slice(0, 10) : text;
}

export function summary(t, answer, info) {
  const type = (t.types && t.types[info.type]) || info.type;
  let text = format(t.summary, {
    type, x: info.xLabel, y: info.yLabel,
    series: answer.series.length, points: pointCount(answer),
  });
  if (answer.truncated) text += " " + format(t.truncated, { points: pointCount(answer) });
  return info.title ? `${info.title}. ${text}` : text;
}

// One row per x, one column per series.
export function buildTable(holder, answer, info, t) {
  while (holder.firstChild) holder.removeChild(holder.firstChild);
  const xs = [];
  const seen = new Map();
  answer.series.forEach((s, i) => s.points.forEach(([x, y]) => {
    const key = String(x);
    if (!seen.has(key)) { seen.set(key, { x, values: [] }); xs.push(key); }
    seen.get(key).values[i] = y;
  }));
  const table = document.createElement("table");
  table.className = "table table-sm table-striped dataviz-points";
  const caption = document.createElement("caption");
  caption.textContent = t.table || "";
  table.appendChild(caption);
  const head = table.createTHead().insertRow();
  const corner = document.createElement("th");
  corner.scope = "col";
  corner.textContent = info.xLabel;
  head.appendChild(corner);
  answer.series.forEach((s) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = s.name;
    head.appendChild(th);
  });
  const body = table.createTBody();
  xs.forEach((key) => {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = (answer.label || label)(seen.get(key).x);
    row.appendChild(th);
    answer.series.forEach((s, i) => {
      const v = seen.get(key).values[i];
      row.insertCell().textContent = v === undefined || v === null ? "" : String(v);
    });
  });
  holder.appendChild(table);
}

// Arrow keys move a highlighted point (the tooltip says its values); Home/End
// jump to the ends; Enter opens the data table.
export function keyboard(container, chart, figure, count) {
  let index = -1;
  figure.addEventListener("keydown", (event) => {
    if (!container.contains(event.target)) return;
    if (event.key === "Enter") {
      const details = figure.querySelector("details");
      if (details) { details.open = true; details.querySelector("summary").focus(); }
      return;
    }
    const n = count();
    if (!n) return;
    if (["ArrowRight", "ArrowDown"].includes(event.key)) index = Math.min(n - 1, index + 1);
    else if (["ArrowLeft", "ArrowUp"].includes(event.key)) index = Math.max(0, index - 1);
    else if (event.key === "Home") index = 0;
    else if (event.key === "End") index = n - 1;
    else return;
    event.preventDefault();
    chart.dispatchAction({ type: "downplay", seriesIndex: 0 });
    chart.dispatchAction({ type: "highlight", seriesIndex: 0, dataIndex: index });
    chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: index });
  });
}

export function copyButtons(root) {
  root.querySelectorAll("[data-dataviz-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const area = document.getElementById(button.getAttribute("data-dataviz-copy"));
      if (!area) return;
      area.select();
      const done = () => { button.textContent = strings().copied || button.textContent; };
      if (navigator.clipboard) navigator.clipboard.writeText(area.value).then(done, () => { document.execCommand("copy"); done(); });
      else { document.execCommand("copy"); done(); }
    });
  });
}

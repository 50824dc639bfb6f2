// Renders one map: its layers (features from the action
// dataviz_map_layer_data), their styles and pop-ups, a text legend, a text
// summary (title, layers, feature counts) and each layer's data as a table.
// Every text that comes from data goes through textContent, never innerHTML.
import L from "./_map_leaflet.js";
import "leaflet.markercluster";
import { styler } from "./_map_style.js";

const TABLE_ROWS = 500;
const TABLE_COLUMNS = 25;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fill(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (m, key) =>
    values[key] === undefined ? m : String(values[key]));
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function popupNode(feature, fields, title) {
  const props = feature.properties || {};
  const names = fields && fields.length ? fields : Object.keys(props).slice(0, 8);
  const box = el("div", { class: "dataviz-map-popup" });
  if (title) box.appendChild(el("strong", {}, title));
  const table = el("table");
  for (const name of names) {
    const row = el("tr");
    row.appendChild(el("th", { scope: "row" }, name));
    row.appendChild(el("td", {}, show(props[name])));
    table.appendChild(row);
  }
  box.appendChild(table);
  return box;
}

function errorText(answer, t) {
  if (!answer || !answer.error) return t.network;
  const error = answer.error;
  const parts = [];
  for (const [key, value] of Object.entries(error)) {
    if (key === "__type") continue;
    if (key === "message") parts.push(show(value));
    else parts.push(`${key}: ${Array.isArray(value) ? value.join(" ") : show(value)}`);
  }
  return parts.join("; ") || t.network;
}

async function fetchLayer(cfg, layer) {
  const params = new URLSearchParams({ resource_id: layer.resource_id });
  for (const key of ["kind", "layer_name", "lat_field", "lon_field"]) {
    const value = (layer.source || {})[key];
    if (value) params.set(key, value);
  }
  let response;
  try {
    response = await fetch(`${cfg.api}?${params}`, {
      credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    return { ok: false, message: cfg.messages.network };
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (e) {
    answer = null;
  }
  if (!response.ok || !answer || !answer.success) {
    return { ok: false, message: errorText(answer, cfg.messages) };
  }
  return { ok: true, result: answer.result };
}

function leafletLayer(layer, features, style, s) {
  const popupFields = style.popup_fields || [];
  const point = (feature, latlng) => {
    const color = s.color(feature);
    if (style.cluster) {
      const dot = el("span");
      dot.style.backgroundColor = color;
      const size = Math.round(s.radius(feature) * 2);
      return L.marker(latlng, {
        keyboard: true,
        icon: L.divIcon({ className: "dataviz-map-dot", html: dot, iconSize: [size, size] }),
      });
    }
    return L.circleMarker(latlng, {
      radius: s.radius(feature), color: "#ffffff", weight: 1, fillColor: color, fillOpacity: 0.85,
    });
  };
  const geo = L.geoJSON({ type: "FeatureCollection", features }, {
    pointToLayer: point,
    style: (feature) => ({ color: s.color(feature), weight: 2, fillColor: s.color(feature), fillOpacity: 0.45 }),
    onEachFeature: (feature, item) => {
      item.bindPopup(() => popupNode(feature, popupFields, layer.title));
    },
  });
  if (!style.cluster) return geo;
  const group = L.markerClusterGroup({ chunkedLoading: true });
  group.addLayer(geo);
  return group;
}

function legendSection(layer, s, t) {
  const section = el("div", { class: "dataviz-map-legend-layer" });
  section.appendChild(el("p", { class: "fw-bold mb-1" }, layer.title));
  const list = el("ul");
  const entries = s.legend.length ? s.legend : [{ label: layer.title, color: (layer.style || {}).color || "#2b6cb0" }];
  for (const entry of entries) {
    const item = el("li");
    const swatch = el("span", { class: "dataviz-map-swatch" + (entry.radius ? " round" : ""), "aria-hidden": "true" });
    swatch.style.backgroundColor = entry.color;
    if (entry.radius) {
      swatch.style.width = `${Math.round(entry.radius * 2)}px`;
      swatch.style.height = `${Math.round(entry.radius * 2)}px`;
    }
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(entry.count !== undefined
      ? `${entry.label} (${entry.count})` : entry.label));
    item.setAttribute("data-legend-entry", "");
    list.appendChild(item);
  }
  section.appendChild(list);
  return section;
}

function dataTable(layer, features, t) {
  const details = el("details", { class: "dataviz-map-data mt-2" });
  details.appendChild(el("summary", {}, fill(t.table, { title: layer.title })));
  const columns = [];
  for (const f of features.slice(0, TABLE_ROWS)) {
    for (const key of Object.keys(f.properties || {})) {
      if (!columns.includes(key) && columns.length < TABLE_COLUMNS) columns.push(key);
    }
  }
  const wrap = el("div", { class: "table-responsive" });
  const table = el("table", { class: "table table-sm table-striped dataviz-map-table" });
  table.appendChild(el("caption", {}, fill(t.table, { title: layer.title })));
  const head = el("tr");
  head.appendChild(el("th", { scope: "col" }, "#"));
  for (const c of columns) head.appendChild(el("th", { scope: "col" }, c));
  const thead = el("thead");
  thead.appendChild(head);
  table.appendChild(thead);
  const body = el("tbody");
  features.slice(0, TABLE_ROWS).forEach((f, i) => {
    const row = el("tr");
    row.appendChild(el("td", {}, i + 1));
    for (const c of columns) row.appendChild(el("td", {}, show((f.properties || {})[c])));
    body.appendChild(row);
  });
  table.appendChild(body);
  wrap.appendChild(table);
  details.appendChild(wrap);
  if (features.length > TABLE_ROWS) details.appendChild(el("p", { class: "small" }, fill(t.table_more, { n: TABLE_ROWS })));
  return details;
}

export function renderMap(root) {
  const cfg = JSON.parse(root.querySelector("script.dataviz-map-config").textContent);
  const t = cfg.messages || {};
  const canvas = root.querySelector(".dataviz-map-canvas");
  const status = root.querySelector(".dataviz-map-status");
  const legendBox = root.querySelector(".dataviz-map-legend");
  const summaryBox = root.querySelector(".dataviz-map-summary");
  const tablesBox = root.querySelector(".dataviz-map-tables");
  canvas.setAttribute("tabindex", "0");
  canvas.setAttribute("role", "application");
  canvas.setAttribute("aria-label", fill(t.map_label, { title: cfg.title }));
  const map = L.map(canvas, { keyboard: true, worldCopyJump: true, minZoom: 1, maxZoom: 19 });
  if (cfg.basemap && cfg.basemap.url) {
    L.tileLayer(cfg.basemap.url, { attribution: cfg.basemap.attribution || "", maxZoom: 19 }).addTo(map);
  }
  const bbox = cfg.bbox;
  if (bbox && bbox.length === 4) map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]]);
  else map.setView([20, 0], 2);
  if (status) status.textContent = t.loading;
  root.dataset.state = "loading";

  const layers = cfg.layers || [];
  const jobs = layers.map(async (layer, index) => {
    if (!layer.available) return { layer, index, skipped: true };
    const answer = await fetchLayer(cfg, layer);
    if (!answer.ok) return { layer, index, error: answer.message };
    const features = answer.result.features || [];
    const style = layer.style || {};
    const s = styler(style, features, t);
    const item = leafletLayer(layer, features, style, s);
    item.addTo(map);
    return { layer, index, features, s, item, truncated: answer.result.truncated };
  });

  Promise.all(jobs).then((done) => {
    const bounds = L.latLngBounds([]);
    let total = 0;
    const summary = el("ul");
    for (const job of done) {
      const line = el("li", { "data-layer-index": job.index });
      if (job.skipped) {
        line.textContent = `${job.layer.title}: ${t.unavailable}`;
        line.setAttribute("data-layer-state", "unavailable");
      } else if (job.error) {
        line.textContent = `${job.layer.title}: ${fill(t.error, { reason: job.error })}`;
        line.setAttribute("data-layer-state", "error");
        const alert = el("p", { class: "alert alert-warning dataviz-map-error", role: "alert" },
          `${job.layer.title}: ${fill(t.error, { reason: job.error })}`);
        if (status) status.after(alert);
      } else {
        total += job.features.length;
        let text = fill(t.layer_line, { title: job.layer.title, n: job.features.length });
        if (job.truncated) text += ` (${fill(t.truncated, { n: job.features.length })})`;
        line.textContent = text;
        line.setAttribute("data-layer-state", "ready");
        line.setAttribute("data-layer-features", job.features.length);
        if (job.features.length && job.item.getBounds) {
          const b = job.item.getBounds();
          if (b.isValid()) bounds.extend(b);
        }
        if (legendBox && cfg.legend !== false) legendBox.appendChild(legendSection(job.layer, job.s, t));
        if (tablesBox) tablesBox.appendChild(dataTable(job.layer, job.features, t));
      }
      summary.appendChild(line);
    }
    if (summaryBox) {
      summaryBox.textContent = "";
      summaryBox.appendChild(el("p", { class: "mb-1" }, fill(t.summary, { title: cfg.title, count: layers.length })));
      summaryBox.appendChild(summary);
    }
    if (legendBox && legendBox.childElementCount) legendBox.hidden = false;
    if (!(bbox && bbox.length === 4) && bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
    if (status) status.textContent = "";
    root.dataset.featureCount = String(total);
    root.dataset.state = "ready";
  });
  return map;
}

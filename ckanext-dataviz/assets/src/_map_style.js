// Styles of map layers by property: one colour per category, graduated
// colours in classes (quantiles or equal intervals), proportional circles.
// Pure functions; the legend they return is text (label + colour).

export const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
  "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"];
// Light to dark blues, 9 steps (classes pick evenly among them).
export const RAMP = ["#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5",
  "#08519c", "#08306b", "#041c40"];
const OTHER = "#bbbbbb";

export function numberOf(value) {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value.trim().replace(",", "."));
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

export function breaks(values, classes, method) {
  const sorted = values.slice().sort((a, b) => a - b);
  if (!sorted.length) return [];
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  const out = [];
  for (let i = 1; i < classes; i++) {
    if (method === "equal") {
      out.push(min + ((max - min) * i) / classes);
    } else {
      out.push(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * i) / classes))]);
    }
  }
  return [min, ...out, max];
}

function fmt(n) {
  if (Math.abs(n) >= 100 || Number.isInteger(n)) return String(Math.round(n * 100) / 100);
  return n.toPrecision(3);
}

// A styler: colour(feature), radius(feature) and the legend entries.
export function styler(style, features, t) {
  const mode = style.mode || "simple";
  const field = style.field;
  const base = style.color || "#2b6cb0";
  const props = (f) => (f && f.properties) || {};
  if (mode === "categories") {
    const counts = new Map();
    for (const f of features) {
      const v = props(f)[field];
      const key = v === null || v === undefined ? "" : String(v);
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const keys = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || a.localeCompare(b));
    const shown = keys.slice(0, PALETTE.length);
    const colours = new Map(shown.map((k, i) => [k, PALETTE[i]]));
    const legend = shown.map((k) => ({ label: k === "" ? t.no_data : k, color: colours.get(k), count: counts.get(k) }));
    if (keys.length > shown.length) {
      legend.push({ label: t.other, color: OTHER,
        count: keys.slice(shown.length).reduce((n, k) => n + counts.get(k), 0) });
    }
    return {
      color: (f) => {
        const v = props(f)[field];
        return colours.get(v === null || v === undefined ? "" : String(v)) || OTHER;
      },
      radius: () => 6,
      legend,
    };
  }
  if (mode === "graduated") {
    const values = features.map((f) => numberOf(props(f)[field])).filter((v) => v !== null);
    const classes = Math.max(2, Math.min(9, style.classes || 5));
    const edges = breaks(values, classes, style.method);
    const step = (RAMP.length - 1) / Math.max(1, classes - 1);
    const colours = Array.from({ length: classes }, (_, i) => RAMP[Math.round(i * step)]);
    const classOf = (v) => {
      for (let i = 1; i < edges.length - 1; i++) if (v < edges[i]) return i - 1;
      return classes - 1;
    };
    const legend = [];
    if (edges.length) {
      for (let i = 0; i < classes; i++) {
        const low = edges[i];
        const high = edges[i + 1];
        const count = values.filter((v) => classOf(v) === i).length;
        legend.push({ label: `${fmt(low)} – ${fmt(high)}`, color: colours[i], count });
      }
    }
    const missing = features.length - values.length;
    if (missing) legend.push({ label: t.no_data, color: OTHER, count: missing });
    return {
      color: (f) => {
        const v = numberOf(props(f)[field]);
        return v === null ? OTHER : colours[classOf(v)];
      },
      radius: () => 6,
      legend,
    };
  }
  if (mode === "proportional") {
    const values = features.map((f) => numberOf(props(f)[field])).filter((v) => v !== null);
    const max = values.length ? Math.max(...values.map(Math.abs)) : 0;
    const maxRadius = style.max_radius || 20;
    const radius = (f) => {
      const v = numberOf(props(f)[field]);
      if (v === null || !max) return 2;
      return Math.max(2, maxRadius * Math.sqrt(Math.abs(v) / max));
    };
    const legend = max
      ? [max, max / 4].map((v) => ({ label: `${field} = ${fmt(v)}`, color: base,
        radius: Math.max(2, maxRadius * Math.sqrt(v / max)) }))
      : [];
    return { color: () => base, radius, legend };
  }
  return { color: () => base, radius: () => 6, legend: [] };
}

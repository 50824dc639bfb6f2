// Charts of the `dataviz_chart` views and the live preview of their form.
// Points come from the action dataviz_chart_data (GET, the user's cookie).
import { copyButtons } from "./_a11y.js";
import { draw, fail, fetchData } from "./_draw.js";

async function viewChart(figure) {
  try {
    const answer = await fetchData(figure.dataset.endpoint, { view_id: figure.dataset.viewId });
    draw(figure, answer, { title: figure.dataset.title || "" });
  } catch (error) {
    fail(figure, error);
  }
}

function formConfig(form) {
  const root = form.closest("form") || document;
  const value = (name) => {
    const el = root.querySelector(`[name="${name}"]`);
    return el ? el.value : "";
  };
  const y = root.querySelector('[name="y"]');
  return {
    chart_type: value("chart_type"), x: value("x"),
    y: y ? Array.from(y.selectedOptions).map((o) => o.value) : [],
    series: value("series"), aggregate: value("aggregate"), bucket: value("bucket"),
    filters: value("filters"), sort: value("sort"), limit: value("limit"),
    x_label: value("x_label"), y_label: value("y_label"), colours: value("colours"),
    title: value("title"),
  };
}

function preview(form) {
  const figure = form.querySelector("[data-dataviz-preview]");
  if (!figure) return;
  let timer = null;
  const run = async () => {
    const config = formConfig(form);
    if (!config.x) return;
    try {
      const answer = await fetchData(form.dataset.endpoint, { resource_id: form.dataset.resourceId, config: JSON.stringify(config) });
      draw(figure, answer, { title: config.title });
    } catch (error) {
      fail(figure, error);
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(run, 400); };
  (form.closest("form") || form).addEventListener("input", later);
  (form.closest("form") || form).addEventListener("change", later);
  run();
}

function start() {
  document.querySelectorAll("[data-dataviz-chart]").forEach(viewChart);
  document.querySelectorAll("[data-dataviz-chart-form]").forEach(preview);
  copyButtons(document);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

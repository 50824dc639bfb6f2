// The map builder: lists the layers of the JSON field (title, resource, style)
// with buttons to move or remove them, and a small form to add a layer from a
// resource id. The JSON field stays the source of truth (and works without
// JavaScript). Texts from data go through textContent.

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function start(form) {
  const field = form.querySelector("#field-layers");
  const holder = form.querySelector("[data-dataviz-builder-layers]");
  if (!field || !holder) return;
  const t = {
    add: form.dataset.addLabel || "Add a layer",
    remove: form.dataset.removeLabel || "Remove",
    up: form.dataset.upLabel || "Up",
    resource: form.dataset.resourceLabel || "Resource id",
    title: form.dataset.titleLabel || "Title",
    mode: form.dataset.modeLabel || "Style",
    prop: form.dataset.fieldLabel || "Property",
    color: form.dataset.colorLabel || "Colour",
    cluster: form.dataset.clusterLabel || "Clusters",
  };

  const read = () => {
    try {
      const value = JSON.parse(field.value || "[]");
      return Array.isArray(value) ? value : null;
    } catch (e) {
      return null;
    }
  };
  const write = (layers) => {
    field.value = JSON.stringify(layers, null, 2);
    draw();
  };

  function draw() {
    holder.textContent = "";
    const layers = read();
    if (!layers) return;
    const list = el("ol", { class: "dataviz-builder-list" });
    layers.forEach((layer, i) => {
      const item = el("li", { class: "mb-1" });
      const style = layer.style || {};
      item.appendChild(el("span", {}, `${layer.title || layer.resource_id} — ${style.mode || "simple"}${style.field ? ` (${style.field})` : ""} `));
      if (i > 0) {
        const up = el("button", { type: "button", class: "btn btn-sm btn-outline-secondary ms-1" }, t.up);
        up.addEventListener("click", () => {
          const copy = read();
          [copy[i - 1], copy[i]] = [copy[i], copy[i - 1]];
          write(copy);
        });
        item.appendChild(up);
      }
      const remove = el("button", { type: "button", class: "btn btn-sm btn-outline-danger ms-1" }, t.remove);
      remove.addEventListener("click", () => {
        const copy = read();
        copy.splice(i, 1);
        write(copy);
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    holder.appendChild(list);

    const add = el("fieldset", { class: "border p-2 mb-2" });
    add.appendChild(el("legend", { class: "h6" }, t.add));
    const inputs = {};
    for (const [key, label, type] of [["resource_id", t.resource, "text"], ["title", t.title, "text"],
      ["field", t.prop, "text"], ["color", t.color, "color"]]) {
      const id = `builder-${key}`;
      add.appendChild(el("label", { for: id, class: "form-label me-1" }, label));
      inputs[key] = el("input", { id, type, class: "form-control form-control-sm mb-1" });
      add.appendChild(inputs[key]);
    }
    inputs.color.value = "#2b6cb0";
    const modeId = "builder-mode";
    add.appendChild(el("label", { for: modeId, class: "form-label me-1" }, t.mode));
    inputs.mode = el("select", { id: modeId, class: "form-select form-select-sm mb-1" });
    for (const mode of ["simple", "categories", "graduated", "proportional"]) {
      inputs.mode.appendChild(el("option", { value: mode }, mode));
    }
    add.appendChild(inputs.mode);
    const clusterId = "builder-cluster";
    inputs.cluster = el("input", { id: clusterId, type: "checkbox", class: "form-check-input me-1" });
    add.appendChild(inputs.cluster);
    add.appendChild(el("label", { for: clusterId, class: "form-check-label" }, t.cluster));
    const button = el("button", { type: "button", class: "btn btn-sm btn-secondary d-block mt-1" }, t.add);
    button.addEventListener("click", () => {
      const copy = read() || [];
      if (!inputs.resource_id.value.trim()) {
        inputs.resource_id.focus();
        return;
      }
      copy.push({
        resource_id: inputs.resource_id.value.trim(),
        title: inputs.title.value.trim(),
        style: { mode: inputs.mode.value, field: inputs.field.value.trim(), color: inputs.color.value,
          cluster: inputs.cluster.checked },
      });
      write(copy);
    });
    add.appendChild(button);
    holder.appendChild(add);
  }

  field.addEventListener("change", draw);
  draw();
}

document.querySelectorAll("[data-dataviz-map-builder]").forEach(start);

// Maps of the portal: resource views `dataviz_map`, saved maps and their
// embeds. Each element [data-dataviz-map] holds its configuration as JSON in a
// <script type="application/json" class="dataviz-map-config">.
import "leaflet/dist/leaflet.css";
import "leaflet.markercluster/dist/MarkerCluster.css";
import "leaflet.markercluster/dist/MarkerCluster.Default.css";
import "./_map.css";
import { renderMap } from "./_map_render.js";

function start() {
  document.querySelectorAll("[data-dataviz-map]").forEach((root) => {
    if (root.dataset.started) return;
    root.dataset.started = "1";
    try {
      renderMap(root);
    } catch (error) {
      root.dataset.state = "error";
      const status = root.querySelector(".dataviz-map-status");
      if (status) status.textContent = String(error && error.message ? error.message : error);
    }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

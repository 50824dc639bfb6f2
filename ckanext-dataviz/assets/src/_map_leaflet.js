// Leaflet as the global `L` before leaflet.markercluster (which extends the
// global) is evaluated: import this module before it.
import L from "leaflet";

window.L = L;
export default L;

/* The widget builder: options -> live preview (the real widget) and the
   snippets to copy. Values go through attributes and textContent only. */
(function () {
  "use strict";
  var root = document.querySelector(".widget-builder");
  if (!root) return;
  var form = root.querySelector("form");
  var preview = document.getElementById("wb-preview");
  var script = root.getAttribute("data-script");
  var frame = root.getAttribute("data-frame");
  var commune = root.getAttribute("data-commune");
  var widget = document.createElement("commune-datasets");
  widget.setAttribute("commune", commune);
  preview.appendChild(widget);

  function attr(value) {
    return String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function options() {
    var out = [];
    form.querySelectorAll("input, select").forEach(function (input) {
      var v = input.value.trim();
      if (v) out.push([input.name, v]);
    });
    return out;
  }

  function update() {
    var opts = options();
    var attrs = ' commune="' + attr(commune) + '"';
    var params = new URLSearchParams();
    opts.forEach(function (o) {
      widget.setAttribute(o[0], o[1]);
      attrs += " " + o[0] + '="' + attr(o[1]) + '"';
      params.set(o[0], o[1]);
    });
    ["q", "tags"].forEach(function (name) {
      if (!opts.some(function (o) { return o[0] === name; })) widget.removeAttribute(name);
    });
    document.getElementById("wb-script").value =
      '<script src="' + attr(script) + '" defer></script>\n<commune-datasets' + attrs + "></commune-datasets>";
    document.getElementById("wb-frame").value =
      '<iframe src="' + attr(frame + "?" + params.toString()) +
      '" style="width:100%;height:600px;border:0" title="' + attr(commune) + '"></iframe>';
  }

  // The form only sets options: Enter must not submit it (no inline
  // handler: the portal's Content-Security-Policy runs none).
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  root.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var area = document.getElementById(button.getAttribute("data-copy"));
      area.select();
      var done = root.querySelector(".wb-copied");
      var say = function () { done.textContent = done.getAttribute("data-done"); };
      if (navigator.clipboard) navigator.clipboard.writeText(area.value).then(say, say);
      else { document.execCommand("copy"); say(); }
    });
  });
  update();
})();

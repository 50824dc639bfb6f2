/* What CKAN's inline event handlers did, for pages under the portal's
 * Content-Security-Policy, which runs no inline handler (site/headers.py):
 * a button with data-csp-check / -click / -focus / -clear (the resource
 * upload/link switch, templates/package/snippets/resource_upload_field.html)
 * checks, clicks, focuses or empties the elements with those ids, in that
 * order (clear, check, click, focus).
 */
(function () {
  "use strict";

  function byId(id) {
    return id ? document.getElementById(id) : null;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    var button = target.closest("[data-csp-check], [data-csp-click], [data-csp-focus], [data-csp-clear]");
    if (!button) {
      return;
    }
    var clear = byId(button.getAttribute("data-csp-clear"));
    if (clear) {
      clear.value = "";
    }
    var check = byId(button.getAttribute("data-csp-check"));
    if (check) {
      check.checked = true;
    }
    var click = byId(button.getAttribute("data-csp-click"));
    if (click) {
      click.click();
    }
    var focus = byId(button.getAttribute("data-csp-focus"));
    if (focus) {
      focus.focus();
    }
  });
}());

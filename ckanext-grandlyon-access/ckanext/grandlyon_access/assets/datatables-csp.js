/* CKAN's DataTables view under the portal's Content-Security-Policy
 * (site/headers.py, templates_first/datatables/datatables_view.html):
 * - the refit button calls the view's fitColText() (CKAN binds it with an
 *   inline onclick, which the policy does not run);
 * - a timer given a string instead of a function is dropped: the policy
 *   refuses to evaluate strings anyway, and CKAN's view passes one by
 *   mistake (`setTimeout(initFilterObserver(), 100)` on its "i18n" event),
 *   which would only be a violation report.
 */
(function () {
  "use strict";

  var setTimeoutOfPage = window.setTimeout;
  window.setTimeout = function (handler) {
    if (typeof handler !== "function") {
      return 0;
    }
    return setTimeoutOfPage.apply(window, arguments);
  };

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (target && target.closest("#refit-button") && typeof window.fitColText === "function") {
      window.fitColText();
    }
  });
}());

// The conversations inbox's list polls its own URL (hx-trigger="every …"). It sends back the
// ETag it was rendered with; an unchanged inbox answers 304 and nothing is swapped.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var etag = event.detail.elt.getAttribute("data-etag");
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 304) event.detail.shouldSwap = false;
  });
  // The reading pane tells teammates whether its user is writing a reply: opening or closing
  // the reply form changes the state it reports, at once.
  document.addEventListener("toggle", function (event) {
    if (!event.target.matches || !event.target.matches("details.convo-reply")) return;
    var state = document.getElementById("presence-state");
    if (!state) return;
    state.value = event.target.open ? "replying" : "viewing";
    htmx.trigger(document.body, "presence-changed");
  }, true);
})();

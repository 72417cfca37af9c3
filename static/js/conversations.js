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
})();

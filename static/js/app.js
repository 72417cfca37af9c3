// Multi-select on list pages, confirmations and small focus helpers; everything else is htmx.
// The pages' CSP runs no inline script or on*= attribute: behaviour is attached here, by data-
// attributes.
(function () {
  function updateBulk(form) {
    var boxes = form.querySelectorAll('input[name="id"]');
    var checked = form.querySelectorAll('input[name="id"]:checked').length;
    var label = form.querySelector("[data-selected-count]");
    if (label) {
      label.hidden = checked === 0;
      label.textContent = checked + " selected";
    }
    form.querySelectorAll("[data-bulk-action]").forEach(function (b) { b.disabled = checked === 0; });
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-bulk]");
    if (!form) return;
    if (event.target.matches("[data-select-all]")) {
      form.querySelectorAll('input[name="id"]').forEach(function (b) { b.checked = event.target.checked; });
    }
    updateBulk(form);
  });
  // <form data-confirm="Question?">: asks before it is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-focus], [data-open]");
    if (!link) return;
    var open = link.getAttribute("data-open");
    if (open) { var d = document.querySelector(open); if (d) d.open = true; }
    var focus = link.getAttribute("data-focus");
    if (focus) { var f = document.querySelector(focus); if (f) { event.preventDefault(); f.focus(); } }
  });
})();

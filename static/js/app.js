// Multi-select on list pages, confirmations, notices, form checks and small focus helpers;
// everything else is htmx.
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

  // <a target="frame" data-preview-name="Ada" data-preview-label="#who">: a link that loads a
  // body into a frame also says whose it is beside the frame, and marks itself current.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-preview-name]");
    if (!link) return;
    var selector = link.getAttribute("data-preview-label");
    var label = document.querySelector(selector);
    if (label) label.textContent = link.getAttribute("data-preview-name");
    document.querySelectorAll("[data-preview-name]").forEach(function (other) {
      if (other.getAttribute("data-preview-label") === selector) other.removeAttribute("aria-current");
    });
    link.setAttribute("aria-current", "true");
  });
  // Notices ([data-dismissible]) close with their [data-dismiss] button. A slot htmx fills
  // ([data-notice-text]) is emptied instead, so the next notice finds it.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (!button) return;
    var notice = button.closest("[data-dismissible]");
    if (!notice) return;
    var slot = notice.querySelector("[data-notice-text]");
    if (slot) slot.textContent = ""; else notice.remove();
  });

  // The words come translated from base.html, on <main data-notice-*>.
  function notify(kind) {
    var main = document.querySelector("main");
    if (!main) return;
    var text = main.getAttribute("data-notice-" + kind);
    // Pinned to the bottom of the screen: the form that failed may be far down the page.
    var list = main.querySelector(":scope > .toasts");
    if (!list) {
      list = document.createElement("div");
      list.className = "messages toasts";
      main.append(list);
    }
    var notice = document.createElement("div");
    notice.className = "message error";
    notice.setAttribute("data-dismissible", "");
    var p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "dismiss";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", main.getAttribute("data-notice-dismiss"));
    close.textContent = "\u00d7";
    notice.append(p, close);
    list.append(notice);
  }

  // An htmx request that fails swaps nothing: say so, rather than a button doing nothing.
  // What was typed stays in the form.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    notify(status === 403 ? "forbidden" : "failed");
  });
  document.addEventListener("htmx:sendError", function () { notify("offline"); });

  // A required field inside a closed <details> ("Advanced options") cannot show the browser's
  // message, so Submit would seem to do nothing: open the <details> and write the message
  // under the field. `invalid` does not bubble, hence the capture.
  document.addEventListener("invalid", function (event) {
    var field = event.target;
    for (var d = field.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
    var box = field.closest(".field");
    if (!box) return;
    var note = box.querySelector("[data-invalid-note]");
    if (!note) {
      note = document.createElement("small");
      note.className = "error";
      note.setAttribute("role", "alert");
      note.setAttribute("data-invalid-note", "");
      box.append(note);
    }
    note.textContent = field.validationMessage;
    box.classList.add("has-error");
  }, true);
  document.addEventListener("input", function (event) {
    var box = event.target.closest && event.target.closest(".field");
    var note = box && box.querySelector("[data-invalid-note]");
    if (note && event.target.validity && event.target.validity.valid) {
      note.remove();
      box.classList.remove("has-error");
    }
  });
})();

// The composer's rich-text editor: a contenteditable area over the plain textarea it fills.
// Without JavaScript the textarea is sent as is. Every piece of HTML it inserts (the textarea's
// starting value, snippets, templates) comes from the server already sanitized, and the page's
// CSP runs no script that would slip through.
(function () {
  var LINK = /^(https?:|mailto:)/i;
  var SCHEME = /^[a-z][a-z0-9+.-]*:/i;
  function setup(form) {
    if (form.dataset.ready) return;
    form.dataset.ready = "1";
    var textarea = form.querySelector('textarea[name="html"]');
    var editor = form.querySelector(".editor");
    var toolbar = form.querySelector(".editor-toolbar");
    if (!textarea || !editor) return;
    editor.innerHTML = textarea.value;
    editor.hidden = false;
    toolbar.hidden = false;
    textarea.hidden = true;
    var sync = function () { textarea.value = editor.innerHTML; };
    editor.addEventListener("input", sync);
    form.addEventListener("submit", sync, true);
    form.addEventListener("htmx:configRequest", sync);
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-cmd]");
      if (!button) return;
      event.preventDefault();
      editor.focus();
      var cmd = button.dataset.cmd;
      if (cmd === "createLink") {
        var url = (window.prompt(button.dataset.prompt || "Link address (https://…)") || "").trim();
        if (url && !SCHEME.test(url)) url = "https://" + url;  // "example.com"
        if (LINK.test(url)) document.execCommand("createLink", false, url);  // never javascript:
      } else {
        document.execCommand(cmd, false, null);
      }
      sync();
    });
    toolbar.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("select[data-cmd]") && target.value) {
        editor.focus();
        document.execCommand(target.dataset.cmd, false, target.value);
        target.value = "";
      } else if (target.matches("[data-insert-snippet]") && target.value) {
        editor.focus();
        document.execCommand("insertHTML", false, target.value);
        target.value = "";
      } else if (target.matches("[data-insert-template]") && target.value) {
        fetch(target.value, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (t) {
          var subject = form.querySelector('input[name="subject"]');
          if (subject && !subject.value) subject.value = t.subject;
          var templateId = form.querySelector('input[name="template_id"]');
          if (templateId) templateId.value = t.id;
          editor.innerHTML = t.html + editor.innerHTML;
          sync();
        });
        target.value = "";
      } else if (target.matches("[data-inline-image]") && target.files.length) {
        var reader = new FileReader();
        reader.onload = function () {
          editor.focus();
          var image = document.createElement("img");
          image.src = reader.result;
          image.alt = "";
          document.execCommand("insertHTML", false, image.outerHTML);
          sync();
        };
        reader.readAsDataURL(target.files[0]);
        target.value = "";
      } else {
        return;
      }
      sync();
    });
    form.addEventListener("click", function (event) {
      var choice = event.target.closest("[data-set-to]");
      if (choice) form.querySelector('input[name="to"]').value = choice.dataset.setTo;
    });
  }
  function scan(root) { (root || document).querySelectorAll("form[data-composer]").forEach(setup); }
  document.addEventListener("DOMContentLoaded", function () { scan(); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-composer]")) {
      var panel = document.getElementById("composer");
      if (panel) panel.outerHTML = '<section id="composer" hidden></section>';
    }
  });
})();
document.addEventListener("click", function (event) {
  var close = event.target.closest("[data-close-thread]");
  if (close) close.closest(".thread").remove();
});

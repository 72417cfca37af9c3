// The composer around its editor (static/js/editor.js): templates and snippets, tokens left
// without a value, the associated contacts offered for To, attachments, and the checks made
// before an email is sent. The server makes the same checks (composer/drafts.py); these save a
// round trip and keep what the rep chose in the page.
(function () {
  var QUOTE = "blockquote.crm-quote";

  function tokenPattern(key, withFallback) {
    var parts = key.split(".").map(function (p) { return p.replace(/\W/g, ""); });
    var fallback = withFallback ? "(?:\\|[^{}]*)?" : "";
    return new RegExp("\\{\\{\\s*" + parts[0] + "\\s*\\.\\s*" + parts[1] + "\\s*" + fallback + "\\}\\}", "g");
  }

  // The text nodes the rep wrote: not those of the quoted email.
  function ownTextNodes(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentElement.closest(QUOTE) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      },
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    return nodes;
  }

  function setup(form) {
    if (form.dataset.ready) return;
    var wrapper = form.querySelector("[data-rich-text]");
    var editor = wrapper && window.CrmEditor.attach(wrapper);
    if (!editor) return;
    form.dataset.ready = "1";
    var subject = form.querySelector('input[name="subject"]');
    var to = form.querySelector('input[name="to"]');
    var tokens = form.querySelector("[data-token-check]");
    var tokenList = tokens.querySelector("[data-token-list]");

    // --- tokens without a value --------------------------------------------------------
    function tokenLeft(key) {
      var pattern = tokenPattern(key, false);
      if (pattern.test(subject.value)) return true;
      return ownTextNodes(editor.root).some(function (node) {
        pattern.lastIndex = 0;
        return pattern.test(node.data);
      });
    }
    function showTokens(missing) {
      var row = tokens.querySelector("template[data-token-row]").content.firstElementChild;
      missing.forEach(function (token) {
        if (tokenList.querySelector('[data-token="' + token.key + '"]')) return;
        var item = row.cloneNode(true);
        item.dataset.token = token.key;
        item.querySelector("[data-token-text]").textContent = token.text;
        item.querySelector("[data-token-label]").textContent = token.label;
        var input = item.querySelector("[data-token-value]");
        input.setAttribute("aria-label", input.dataset.labelPrefix + " " + token.label);
        tokenList.appendChild(item);
      });
      refreshTokens();
    }
    // Drops the rows of tokens no longer in the email (filled in, or given a fallback).
    function refreshTokens() {
      tokenList.querySelectorAll("[data-token]").forEach(function (item) {
        if (!tokenLeft(item.dataset.token)) item.remove();
      });
      var left = tokenList.querySelector("[data-token]");
      tokens.hidden = !left;
      if (!left) tokens.querySelector("[data-token-error]").hidden = true;
      return !!left;
    }
    function fillToken(item) {
      var input = item.querySelector("[data-token-value]");
      var value = input.value.trim();
      if (!value) { input.focus(); return; }
      var pattern = tokenPattern(item.dataset.token, true);
      subject.value = subject.value.replace(pattern, value);
      editor.squire.saveUndoState();
      ownTextNodes(editor.root).forEach(function (node) {
        pattern.lastIndex = 0;
        if (pattern.test(node.data)) node.data = node.data.replace(pattern, value);
      });
      editor.sync();
      refreshTokens();
    }
    tokens.addEventListener("click", function (event) {
      var button = event.target.closest("[data-fill-token]");
      if (button) fillToken(button.closest("[data-token]"));
    });
    tokens.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.matches("[data-token-value]")) {
        event.preventDefault();
        fillToken(event.target.closest("[data-token]"));
      }
    });

    // --- templates and snippets --------------------------------------------------------
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-insert-snippet]") && target.value) {
        editor.insertHTML(target.value);
        target.value = "";
      } else if (target.matches("[data-insert-template]") && target.value) {
        var url = target.value + "?to=" + encodeURIComponent(to.value);
        target.value = "";
        fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (t) {
          if (!subject.value) subject.value = t.subject;
          form.querySelector('input[name="template_id"]').value = t.id;
          editor.insertHTML(t.html);
          showTokens(t.missing);
        });
      } else if (target.matches('input[type="file"][name="attachments"]')) {
        checkSize();
      }
    });

    // --- To: the contact's other addresses, the associated contacts --------------------
    function addresses() {
      return to.value.split(/[,;]/).map(function (a) { return a.trim(); }).filter(Boolean);
    }
    function pressedChips() {
      var chosen = addresses().map(function (a) { return a.toLowerCase(); });
      form.querySelectorAll("[data-add-to]").forEach(function (chip) {
        chip.setAttribute("aria-pressed", chosen.indexOf(chip.dataset.addTo.toLowerCase()) >= 0 ? "true" : "false");
      });
    }
    to.addEventListener("input", pressedChips);
    pressedChips();
    form.addEventListener("click", function (event) {
      var set = event.target.closest("[data-set-to]");
      if (set) to.value = set.dataset.setTo;
      var chip = event.target.closest("[data-add-to]");
      if (chip) {
        var address = chip.dataset.addTo;
        var list = addresses();
        var at = list.map(function (a) { return a.toLowerCase(); }).indexOf(address.toLowerCase());
        if (at >= 0) list.splice(at, 1); else list.push(address);
        to.value = list.join(", ");
        pressedChips();
      }
      var remove = event.target.closest("[data-remove-file]");
      if (remove) {
        var files = remove.closest("ul");
        remove.closest("[data-kept-file]").remove();
        if (!files.querySelector("[data-kept-file]")) files.remove();
        checkSize();
        form.querySelector('input[type="file"][name="attachments"]').focus();
      }
      if (event.target.closest("[data-send-without-subject]")) {
        form.querySelector('input[name="no_subject_confirmed"]').value = "1";
        form.requestSubmit();
      }
    });

    // --- attachments: the size limit, checked before anything is uploaded ---------------
    function checkSize() {
      var input = form.querySelector('input[type="file"][name="attachments"]');
      var error = form.querySelector("[data-size-error]");
      var total = 0;
      form.querySelectorAll("[data-kept-file]").forEach(function (k) { total += Number(k.dataset.size); });
      Array.prototype.forEach.call(input.files, function (f) { total += f.size; });
      var over = total > Number(input.dataset.maxBytes);
      error.hidden = !over;
      if (over) {
        error.textContent = error.dataset.template.replace("%(size)s", (total / 1048576).toFixed(1));
        input.value = "";  // nothing this large is sent to the server
        input.focus();
      }
      return !over;
    }

    // --- the checks before sending -----------------------------------------------------
    function bodyIsEmpty() {
      var text = "";
      var images = false;
      ownTextNodes(editor.root).forEach(function (node) {
        if (!node.parentElement.closest(".signature")) text += node.data;
      });
      editor.root.querySelectorAll("img").forEach(function (img) {
        if (!img.closest(".signature, " + QUOTE)) images = true;
      });
      return !images && !text.replace(/[\s\u00a0\u200b]/g, "");
    }
    subject.addEventListener("input", function () {
      if (subject.value.trim()) form.querySelector("[data-confirm-subject]").hidden = true;
    });
    form.checkBeforeSending = function () {
      editor.sync();
      if (refreshTokens()) {
        tokens.querySelector("[data-token-error]").hidden = false;
        tokens.querySelector("[data-token-value]").focus();
        return false;
      }
      var forward = form.querySelector('input[name="mode"]').value === "forward";
      var bodyError = form.querySelector("[data-body-error]");
      bodyError.hidden = forward || !bodyIsEmpty();
      if (!bodyError.hidden) {
        editor.squire.focus();
        return false;
      }
      if (!checkSize()) return false;
      var confirmed = form.querySelector('input[name="no_subject_confirmed"]').value;
      if (!subject.value.trim() && confirmed !== "1" && confirmed !== "True") {
        var confirm = form.querySelector("[data-confirm-subject]");
        confirm.hidden = false;
        confirm.querySelector("button").focus();
        return false;
      }
      return true;
    };
  }

  function scan(root) { (root || document).querySelectorAll("form[data-composer]").forEach(setup); }
  document.addEventListener("DOMContentLoaded", function () { scan(); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  // Runs before htmx sends the form (capture, on the document): a check that fails stops it.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-composer]");
    if (form && form.checkBeforeSending && !form.checkBeforeSending()) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-composer]")) {
      var panel = document.getElementById("composer");
      if (panel) panel.outerHTML = '<section id="composer" hidden></section>';
    }
  });
})();

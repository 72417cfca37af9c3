// The rich-text editor of every [data-rich-text] block (the composer's body, the bodies of
// templates, snippets and signatures): Fastmail's Squire (static/vendor/squire, see the README
// there) edits a div in place of the textarea, and copies its HTML back into the textarea, which
// is what the form sends. Without JavaScript the textarea is sent as is.
//
// Squire edits the HTML it is given in place (a quoted email or a signature keeps its markup)
// and writes formatting as plain tags and inline styles (b, i, u, ul, ol, a, text-align,
// font-family, font-size), which the server's sanitizer keeps and mail clients show. All HTML it
// takes in (the starting value, snippets, templates, pastes) goes through DOMPurify first, on
// top of the server's sanitizer; the page's CSP runs no script that would slip through both.
(function () {
  var SCHEME = /^[a-z][a-z0-9+.-]*:/i;
  var SAFE_LINK = /^(https?:|mailto:)/i;
  var PURIFY = {
    // No <style> element (the CSP refuses them), nothing a form could post.
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "option", "link", "meta"],
    RETURN_DOM_FRAGMENT: true,
    WHOLE_DOCUMENT: false,
  };
  // Toolbar command: [tag it makes, Squire's method to add it, to remove it].
  var FORMATS = {
    bold: ["B", "bold", "removeBold"],
    italic: ["I", "italic", "removeItalic"],
    underline: ["U", "underline", "removeUnderline"],
  };

  function purify(html) {
    return document.importNode(window.DOMPurify.sanitize(html, PURIFY), true);
  }

  // A web or mail address as typed ("example.com/docs", "ann@example.com"), or "" if it is
  // neither: never a javascript: or other scheme.
  function linkAddress(typed) {
    var url = (typed || "").trim();
    if (!url) return "";
    if (!SCHEME.test(url)) url = (/^[^\s/@]+@[^\s/@]+\.[^\s/@]+$/.test(url) ? "mailto:" : "https://") + url;
    return SAFE_LINK.test(url) ? url : "";
  }

  // The element an insertion must not go into (the signature, the quoted email), if the
  // range is inside one.
  function guarded(range, root) {
    var node = range.startContainer;
    var element = node.nodeType === 1 ? node : node.parentElement;
    var found = element && element.closest(".signature, blockquote.crm-quote");
    return found && root.contains(found) ? found : null;
  }

  function isBlank(block) {
    return block && block.nodeType === 1 && !block.matches(".signature, blockquote") &&
      !block.textContent.trim() && !block.querySelector("img");
  }

  // Insert HTML at the caret (where it last was); out of the signature or the quoted email: just
  // before it, on an empty line of its own.
  function insertHTML(squire, html) {
    var root = squire.getRoot();
    var range = squire.getSelection();
    var fence = guarded(range, root);
    if (fence) {
      while (fence.parentNode !== root) fence = fence.parentNode;
      var line = fence.previousElementSibling;
      if (!isBlank(line)) {
        line = squire.createDefaultBlock();
        root.insertBefore(line, fence);
      }
      range = document.createRange();
      range.setStart(line, 0);
      range.collapse(true);
      squire.setSelection(range);
    }
    squire.insertHTML(html);
  }

  function linkEditor(wrapper, squire) {
    var box = wrapper.querySelector("[data-link-editor]");
    var input = box.querySelector("[data-link-address]");
    var error = box.querySelector("[data-link-error]");
    function close() {
      box.hidden = true;
      input.value = "";
      error.hidden = true;
      squire.focus();
    }
    function apply() {
      var url = linkAddress(input.value);
      if (!url) {
        error.hidden = false;
        input.focus();
        return;
      }
      box.hidden = true;
      input.value = "";
      error.hidden = true;
      squire.makeLink(url);
    }
    box.addEventListener("click", function (event) {
      if (event.target.closest("[data-link-apply]")) apply();
      if (event.target.closest("[data-link-cancel]")) close();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); apply(); }
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    return function open() {
      box.hidden = false;
      error.hidden = true;
      input.focus();
    };
  }

  function command(squire, name, openLink) {
    var format = FORMATS[name];
    if (format) {
      squire[squire.hasFormat(format[0]) ? format[2] : format[1]]();
    } else if (name === "bulleted") {
      squire.hasFormat("UL") ? squire.removeList() : squire.makeUnorderedList();
    } else if (name === "numbered") {
      squire.hasFormat("OL") ? squire.removeList() : squire.makeOrderedList();
    } else if (name === "left" || name === "center" || name === "right") {
      squire.setTextAlignment(name);
    } else if (name === "link") {
      openLink();
    }
  }

  function attach(wrapper) {
    if (wrapper.crmEditor) return wrapper.crmEditor;
    var textarea = wrapper.querySelector("textarea");
    var root = wrapper.querySelector(".editor");
    var toolbar = wrapper.querySelector(".editor-toolbar");
    if (!textarea || !root || !toolbar || !window.Squire || !window.DOMPurify) return null;
    // The writer's font, as the email will carry it (their email preferences): set through the
    // CSSOM, since the page's CSP allows no style attribute in its markup.
    if (root.dataset.fontFamily) root.style.fontFamily = root.dataset.fontFamily;
    if (root.dataset.fontSize) root.style.fontSize = root.dataset.fontSize;
    var squire = new window.Squire(root, { sanitizeToDOMFragment: purify, addLinks: true });
    squire.setHTML(textarea.value);
    var sync = function () { textarea.value = squire.getHTML(); };
    squire.addEventListener("input", sync);
    // The field's label names the editor now; the textarea it named is hidden.
    var label = textarea.id && document.querySelector('label[for="' + textarea.id + '"]');
    if (label) {
      label.id = label.id || textarea.id + "-label";
      label.removeAttribute("for");
      if (!root.hasAttribute("aria-label")) root.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { squire.focus(); });
    }
    root.hidden = false;
    toolbar.hidden = false;
    textarea.hidden = true;
    var openLink = linkEditor(wrapper, squire);
    // The toolbar keeps the editor's selection: a press on it does not take the focus.
    toolbar.addEventListener("mousedown", function (event) {
      if (event.target.closest("button")) event.preventDefault();
    });
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-cmd]");
      if (!button) return;
      event.preventDefault();
      command(squire, button.dataset.cmd, openLink);
      pressed();
      sync();
    });
    toolbar.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-font]") && target.value) {
        squire.setFontFace(target.value);
      } else if (target.matches("[data-size]") && target.value) {
        squire.setFontSize(target.value);
      } else if (target.matches("[data-insert-token]") && target.value) {
        squire.insertPlainText(target.value, false);
      } else if (target.matches("[data-inline-image]") && target.files.length) {
        var reader = new FileReader();
        reader.onload = function () { squire.insertImage(reader.result, { alt: "" }); sync(); };
        reader.readAsDataURL(target.files[0]);
        target.value = "";
        return;
      } else {
        return;
      }
      target.value = "";
      sync();
    });
    function pressed() {
      toolbar.querySelectorAll("button[data-cmd]").forEach(function (button) {
        var format = FORMATS[button.dataset.cmd];
        if (format) button.setAttribute("aria-pressed", squire.hasFormat(format[0]) ? "true" : "false");
      });
    }
    squire.addEventListener("pathChange", pressed);
    wrapper.crmEditor = {
      squire: squire,
      root: root,
      sync: sync,
      insertHTML: function (html) { insertHTML(squire, html); sync(); },
    };
    return wrapper.crmEditor;
  }

  function scan(node) {
    (node || document).querySelectorAll("[data-rich-text]").forEach(attach);
  }
  window.CrmEditor = { attach: attach, linkAddress: linkAddress };
  document.addEventListener("DOMContentLoaded", function () { scan(); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  // An editor swapped out of the page stops listening to it.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (event.target.crmEditor) event.target.crmEditor.squire.destroy();
  });
  // What a form sends is the editor's HTML as it is now.
  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("[data-rich-text]").forEach(function (wrapper) {
      if (wrapper.crmEditor) wrapper.crmEditor.sync();
    });
  }, true);
})();

// Copy buttons of secrets shown once (transactional/credentials): <button data-copy="#input">
// copies the input's value and says "Copied". Without the clipboard API (a page served over
// plain http from another host), the text is selected for the person to copy.
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.textContent;
    function say(text) {
      button.textContent = text;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    function fallback() {
      field.focus();
      field.select();
      say(button.getAttribute("data-copy-failed"));
    }
    if (!navigator.clipboard || !window.isSecureContext) { fallback(); return; }
    navigator.clipboard.writeText(field.value).then(function () {
      say(button.getAttribute("data-copied"));
    }, fallback);
  });
})();

// The bulk enrollment page: a search over the selected contacts (filters the list on the
// left), and a contact's link there opens its panel. Without script the list shows everyone
// and the panels open by hand.
(function () {
  function ready() {
    var search = document.querySelector("[data-contact-search]");
    if (search) {
      search.hidden = false;
      search.addEventListener("input", function () {
        var words = search.value.trim().toLowerCase();
        document.querySelectorAll("[data-contact-name]").forEach(function (item) {
          item.hidden = words !== "" && item.dataset.contactName.indexOf(words) === -1;
        });
      });
    }
    document.addEventListener("click", function (event) {
      var link = event.target.closest("[data-open-panel]");
      if (!link) return;
      var panel = document.getElementById(link.dataset.openPanel);
      if (panel) panel.open = true;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();

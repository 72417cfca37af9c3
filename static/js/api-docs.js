// The API's browsable docs (transactional/api/views.py): Swagger UI on the generated OpenAPI
// document, its settings read from the page's JSON block (no inline script under the CSP).
(function () {
  var settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.dom_id = "#swagger-ui";
  settings.presets = [SwaggerUIBundle.presets.apis];
  SwaggerUIBundle(settings);
})();

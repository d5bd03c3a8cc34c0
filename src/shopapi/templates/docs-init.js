window.addEventListener("load", function () {
  var tag = document.querySelector("script[data-spec]");
  window.ui = SwaggerUIBundle({
    url: tag.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});

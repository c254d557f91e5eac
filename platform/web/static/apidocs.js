/* Starts Swagger UI on /schema/swagger. Kept out of the page itself so that the page runs no
   inline script (the Content-Security-Policy allows scripts from our own origin only). */
(function () {
  'use strict';
  var box = document.getElementById('swagger-container');
  var presets = [SwaggerUIBundle.presets.apis];
  var standalone = window.SwaggerUIStandalonePreset || SwaggerUIBundle.SwaggerUIStandalonePreset;
  if (standalone) presets.push(standalone);
  window.ui = SwaggerUIBundle({
    url: box.dataset.specUrl,
    dom_id: '#swagger-container',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // no badge fetched from swagger.io
    presets: presets
  });
})();

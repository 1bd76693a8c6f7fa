// The interactive API reference at /docs: Swagger UI over the live OpenAPI documents of both
// services (nginx proxies /docs/<service>.json to each one's /openapi.json), with "Try it out"
// and "Authorize" going through this same front door.
/* global SwaggerUIBundle, SwaggerUIStandalonePreset */
(function () {
  'use strict';

  var origin = window.location.origin;

  // The documents name the services' own addresses (127.0.0.1:8000, :8001). Seen from here,
  // every API path and the token endpoint are on this origin, whatever host the front door has.
  function onThisOrigin(url) {
    return origin + new URL(url, origin).pathname;
  }

  function throughTheFrontDoor(spec) {
    var copy = JSON.parse(JSON.stringify(spec));
    copy.servers = [{ url: origin, description: 'This front door' }];
    var schemes = (copy.components && copy.components.securitySchemes) || {};
    Object.keys(schemes).forEach(function (name) {
      var flows = schemes[name].flows || {};
      Object.keys(flows).forEach(function (kind) {
        ['authorizationUrl', 'tokenUrl', 'refreshUrl'].forEach(function (key) {
          if (flows[kind][key]) flows[kind][key] = onThisOrigin(flows[kind][key]);
        });
      });
    });
    return copy;
  }

  function FrontDoorPlugin() {
    return {
      statePlugins: {
        spec: {
          wrapActions: {
            updateJsonSpec: function (original) {
              return function (spec) {
                return original(throughTheFrontDoor(spec));
              };
            },
          },
        },
      },
    };
  }

  var wanted = new URLSearchParams(window.location.search).get('api');
  window.ui = SwaggerUIBundle({
    urls: [
      { url: '/docs/permiso-auth.json', name: 'permiso-auth' },
      { url: '/docs/mt5-api.json', name: 'mt5-api' },
    ],
    'urls.primaryName': wanted === 'mt5-api' ? 'mt5-api' : 'permiso-auth',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl, FrontDoorPlugin],
    layout: 'StandaloneLayout',
    // The public validator badge would send the documents to swagger.io.
    validatorUrl: null,
    // Tokens stay in this page's memory, never in localStorage.
    persistAuthorization: false,
    oauth2RedirectUrl: origin + '/docs/oauth2-redirect.html',
  });
  window.ui.initOAuth({ usePkceWithAuthorizationCodeGrant: true });
})();

// Trusted Types (Chromium): the page's CSP (require-trusted-types-for
// 'script'; trusted-types default) makes every HTML and script sink
// (innerHTML, document.write, a script's text or src, new Worker(url))
// refuse plain strings. The page uses none of them (ui/dom.js builds
// elements and text nodes). The one string that has to pass is the blob:
// URL of mqtt.js's timer worker (worker-timers, so that keepalives keep
// their pace in a background tab): this default policy lets through blob:
// script URLs of this page's own origin and nothing else. Imported first
// by main.js, before mqtt.js can start its worker.
const trustedTypes = globalThis.trustedTypes;
if (trustedTypes && trustedTypes.createPolicy) {
  const own = `blob:${globalThis.location.origin}/`;
  trustedTypes.createPolicy('default', {
    createScriptURL: (url) => (typeof url === 'string' && url.startsWith(own) ? url : null),
  });
}

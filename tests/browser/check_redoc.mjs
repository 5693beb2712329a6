// Opens greeter's ReDoc page in Debian's Chromium (driven by playwright-core) and checks what a
// reader would see: every operation of the document rendered, nothing fetched from another host
// (no CDN, no web fonts), no console error under the page's Content-Security-Policy.
//
//   node check_redoc.mjs REDOC_URL [--scheme NAME]
//
// --scheme: a security scheme the page must show (its name, as the document declares it).
// Prints one line per check.
import assert from "node:assert/strict";
import { LOOPBACK, launchChromium } from "./chromium.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args.splice(index, 2)[1];
};
const scheme = option("--scheme");
const redocUrl = args[0];
if (!redocUrl) {
  throw new Error("usage: node check_redoc.mjs REDOC_URL [--scheme NAME]");
}

const browser = await launchChromium();
const checks = [];
const pass = (what) => {
  checks.push(what);
  console.log(`ok - ${what}`);
};

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const offHost = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "blob:" || url.protocol === "data:" || LOOPBACK.has(url.hostname)) {
      return route.continue();
    }
    offHost.push(url.href);
    return route.abort("blockedbyclient");
  });
  const consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));

  const answer = await page.goto(redocUrl);
  const csp = answer.headers()["content-security-policy"] ?? "";
  assert.match(csp, /script-src 'self'(;|$)/, "the page allows only its own scripts");
  await page.locator(".api-info h1").filter({ hasText: "greeter" }).waitFor();
  assert.match(await page.title(), /^greeter - ReDoc$/);
  assert.match(await page.locator(".api-info h1").innerText(), /0\.1\.0/);
  pass("the page shows the API's title and version under a CSP allowing only its own scripts");

  const specUrl = new URL(await page.locator("redoc").getAttribute("spec-url"), page.url());
  const spec = await (await page.request.get(specUrl.href)).json();
  const ids = Object.values(spec.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  assert.ok(ids.length >= 4, JSON.stringify(ids));
  for (const id of ids) {
    const section = page.locator(`[data-section-id$="operation/${id}"]`);
    await section.first().waitFor({ state: "attached" });
    const summary = spec.paths[Object.keys(spec.paths).find((p) =>
      Object.values(spec.paths[p]).some((op) => op.operationId === id))];
    const operation = Object.values(summary).find((op) => op.operationId === id);
    assert.match(await section.first().innerText(), new RegExp(operation.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  }
  pass(`every documented operation is rendered (${ids.length})`);

  if (scheme) {
    const text = await page.locator(".api-content").innerText();
    assert.match(text, new RegExp(`Authorizations:\\s*${scheme}`, "i"), "no operation names the scheme");
    pass(`the security scheme ${scheme} is shown on the protected operations`);
  }

  assert.deepEqual(offHost, [], "requests left loopback");
  pass("no request left loopback (no CDN, no web font)");
  assert.deepEqual(consoleErrors, [], "the console shows errors");
  pass("the console shows no error");
} finally {
  await browser.close();
}
console.log(`redoc: ${checks.length} checks passed`);

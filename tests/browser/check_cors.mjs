// CORS as a browser enforces it: Debian's Chromium (driven by playwright-core) opens a page on
// another origin, served here on a port of its own, whose script calls greeter's API with
// `fetch`. From an allowed origin the page reads the answer (and the exposed X-Request-Id);
// from another the browser blocks it.
//
//   node check_cors.mjs API_URL ALLOWED_PAGE_URL OTHER_PAGE_URL
//
// Each page URL is a loopback origin with a free port: this script serves a minimal HTML page
// there (a real server, so that Chromium sees a loopback page calling a loopback API), and the
// page's origin is exactly that URL's.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { launchChromium } from "./chromium.mjs";

const [apiUrl, allowedPage, otherPage] = process.argv.slice(2);
if (!otherPage) {
  throw new Error("usage: node check_cors.mjs API_URL ALLOWED_PAGE_URL OTHER_PAGE_URL");
}

const browser = await launchChromium();
let checks = 0;
const pass = (what) => {
  checks++;
  console.log(`ok - ${what}`);
};

/// Serves an empty page on `pageUrl`'s port; resolves once listening.
function servePage(pageUrl) {
  const server = createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>app</title>");
  });
  const { hostname, port } = new URL(pageUrl);
  return new Promise((resolve) => server.listen(Number(port), hostname, () => resolve(server)));
}

/// Opens `pageUrl` and, from it, POSTs JSON to the API.
async function callFrom(pageUrl) {
  const server = await servePage(pageUrl);
  const page = await browser.newPage();
  const console_ = [];
  page.on("console", (message) => console_.push(message.text()));
  await page.goto(pageUrl);
  const result = await page.evaluate(async (url) => {
    try {
      const response = await fetch(`${url}/greetings`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "Ada", language: "fr" }),
      });
      return { status: response.status, body: await response.json(), id: response.headers.get("x-request-id") };
    } catch (error) {
      return { blocked: String(error) };
    }
  }, apiUrl);
  await page.close();
  server.close();
  return { ...result, console: console_.join("\n") };
}

try {
  const allowed = await callFrom(allowedPage);
  assert.equal(allowed.status, 200, JSON.stringify(allowed));
  assert.deepEqual(allowed.body, { message: "Bonjour, Ada!", language: "fr" });
  pass("an allowed origin reads the answer of a preflighted POST");
  assert.ok(allowed.id, "X-Request-Id is exposed to the page");
  pass("the page reads the exposed X-Request-Id");

  const other = await callFrom(otherPage);
  assert.ok(other.blocked, `another origin read the answer: ${JSON.stringify(other)}`);
  // Blocked for CORS (the preflight's answer names no such origin), not for anything else.
  assert.match(other.console, /has been blocked by CORS policy: Response to preflight request/, other.console);
  assert.doesNotMatch(other.console, /address space/, other.console);
  pass("another origin is blocked by the browser's CORS check");
} finally {
  await browser.close();
}
console.log(`cors: ${checks} checks passed`);

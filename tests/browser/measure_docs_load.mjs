// Measures what a browser transfers to load a docs page (Debian's Chromium, driven by
// playwright-core): every response's bytes on the wire (headers and body, as Chromium's
// network panel counts them) for a cold load in a fresh profile, then for a reload.
//
//   node measure_docs_load.mjs URL READY_SELECTOR [--max-cold BYTES] [--max-reload BYTES]
//
// READY_SELECTOR: an element that shows the page has rendered the document. Prints one JSON
// line {url, cold, reload, requests}; exits non-zero when a --max-* target is exceeded.
import assert from "node:assert/strict";
import { launchChromium } from "./chromium.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : Number(args.splice(index, 2)[1]);
};
const maxCold = option("--max-cold");
const maxReload = option("--max-reload");
const [url, ready] = args;
if (!url || !ready) {
  throw new Error("usage: node measure_docs_load.mjs URL READY_SELECTOR [--max-cold N] [--max-reload N]");
}

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  let bytes = 0;
  let requests = [];
  const urls = new Map();
  cdp.on("Network.responseReceived", (event) => {
    urls.set(event.requestId, `${event.response.status} ${event.response.url}`);
  });
  cdp.on("Network.loadingFinished", (event) => {
    bytes += event.encodedDataLength;
    requests.push(`${urls.get(event.requestId) ?? event.requestId}: ${event.encodedDataLength}`);
  });
  // Waits until the page has rendered and the network has been quiet for a moment.
  const settle = async () => {
    await page.locator(ready).first().waitFor();
    await page.waitForLoadState("networkidle");
  };

  await page.goto(url);
  await settle();
  const cold = bytes;
  const coldRequests = requests;
  bytes = 0;
  requests = [];
  await page.reload();
  await settle();
  const reload = bytes;
  console.log(JSON.stringify({ url, cold, reload, requests: { cold: coldRequests, reload: requests } }));
  if (maxCold !== undefined) {
    assert.ok(cold <= maxCold, `cold load of ${url}: ${cold} bytes > ${maxCold}`);
  }
  if (maxReload !== undefined) {
    assert.ok(reload <= maxReload, `reload of ${url}: ${reload} bytes > ${maxReload}`);
  }
} finally {
  await browser.close();
}

// Opens greeter's Swagger UI in Debian's Chromium (driven by playwright-core, which downloads no
// browser) as a person would, and checks what they would see. Every request to a host other
// than loopback is blocked and recorded.
//
//   node check_docs.mjs DOCS_URL [--prefix /api/v1] [--api-key KEY] [--screenshot FILE]
//
// DOCS_URL is the docs page as the user types it (e.g. http://127.0.0.1:8000/docs). --prefix
// is the path prefix a proxy serves the API under: "Try it out" must call through it.
// --api-key: the server requires API keys; GET / must be refused until the key is given to
// "Authorize", and the authorization must survive a reload (persistAuthorization).
// --screenshot saves the page with GET / tried out, then stops. Prints one line per check.
import assert from "node:assert/strict";
import { LOOPBACK, launchChromium } from "./chromium.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args.splice(index, 2)[1];
};
const prefix = option("--prefix") ?? "";
const screenshot = option("--screenshot");
const apiKey = option("--api-key");
const docsUrl = args[0];
if (!docsUrl) {
  throw new Error("usage: node check_docs.mjs DOCS_URL [--prefix PATH] [--screenshot FILE]");
}
const origin = new URL(docsUrl).origin;

const browser = await launchChromium();
const checks = [];
const pass = (what) => {
  checks.push(what);
  console.log(`ok - ${what}`);
};

// Opens "Authorize", gives the bearer scheme `key`, and closes the dialog.
async function authorize(page, key) {
  await page.locator(".scheme-container button.authorize").click();
  const dialog = page.locator(".modal-ux");
  await dialog.locator("input").fill(key);
  await dialog.getByRole("button", { name: "Apply credentials" }).click();
  await dialog.locator("button.btn-done").click();
  await page.locator(".scheme-container button.authorize.locked").waitFor();
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const offHost = [];
  const apiRequests = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.has(url.hostname)) {
      return route.continue();
    }
    offHost.push(url.href);
    return route.abort("blockedbyclient");
  });
  page.on("request", (request) => apiRequests.push(`${request.method()} ${request.url()}`));
  const consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));

  await page.goto(docsUrl);
  await page.locator(".info .title").filter({ hasText: "greeter" }).waitFor();
  assert.match(await page.title(), /^greeter - Swagger UI$/);
  assert.match(await page.locator(".info .title").innerText(), /0\.1\.0/);
  pass("the page shows the API's title and version");

  // Every operation of the document the page itself loads, found by its tag and id.
  const specUrl = new URL("../openapi.json", new URL(page.url()));
  const spec = await (await page.request.get(specUrl.href)).json();
  const operations = {};
  for (const item of Object.values(spec.paths)) {
    for (const operation of Object.values(item)) {
      operations[operation.operationId] = `#operations-${operation.tags[0]}-${operation.operationId}`;
    }
  }
  assert.ok(Object.keys(operations).length >= 4, JSON.stringify(operations));
  for (const [id, selector] of Object.entries(operations)) {
    await page.locator(selector).waitFor();
    assert.match(await page.locator(selector).innerText(), new RegExp(id));
  }
  pass(`every documented operation is listed (${Object.keys(operations).length})`);

  // Expands an operation, presses "Try it out", fills its inputs, presses "Execute" and
  // returns the status and body shown, or the validation message when Swagger UI refuses.
  const triedOut = new Set();
  const tryOut = async (id, fill) => {
    const operation = page.locator(operations[id]);
    if (!triedOut.has(id)) {
      await operation.locator(".opblock-summary").click();
      await operation.getByRole("button", { name: "Try it out" }).click();
      triedOut.add(id);
    }
    if (fill) {
      await fill(operation);
    }
    // Clear the answer of an earlier try, so that only the new one can be read.
    const clear = operation.locator("button.btn-clear");
    if (await clear.isVisible()) {
      await clear.click();
    }
    await operation.locator("button.execute").click();
    const refused = operation.locator(".validation-errors");
    const status = operation.locator(".live-responses-table td.response-col_status:not(.col_header)");
    await Promise.race([refused.waitFor(), status.waitFor()]);
    if (await refused.isVisible()) {
      return { refused: await refused.innerText() };
    }
    const body = await operation.locator(".live-responses-table .response-col_description pre").first().innerText();
    const requestUrl = await operation.locator(".request-url pre").innerText();
    return { status: Number((await status.innerText()).trim()), body, requestUrl };
  };

  if (apiKey) {
    const refused = await tryOut("get_greeting");
    assert.equal(refused.status, 401);
    assert.deepEqual(JSON.parse(refused.body), { detail: "Not authenticated" });
    pass("GET / tried out without authorizing: 401 Not authenticated");
    await authorize(page, apiKey);
    pass("Authorize takes the API key (bearerAuth)");
  }
  const root = await tryOut("get_greeting");
  assert.equal(root.status, 200);
  assert.deepEqual(JSON.parse(root.body), { Hello: "World" });
  assert.equal(root.requestUrl, `${origin}${prefix}/`);
  pass(`GET / tried out: 200 {"Hello": "World"} from ${root.requestUrl}`);

  if (screenshot) {
    // The top of the page (title, version, spec selector, filter) down to GET /'s answer.
    await page.evaluate(() => window.scrollTo(0, 0));
    const bottom = await page.locator(operations.get_greeting).locator(".live-responses-table").evaluate(
      (element) => element.getBoundingClientRect().bottom + window.scrollY + 16,
    );
    await page.screenshot({ path: screenshot, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: bottom } });
    pass(`screenshot saved to ${screenshot}`);
  } else {
    const nameInput = (value) => (operation) => operation.locator('input[placeholder="name"]').fill(value);
    const named = await tryOut("get_named_greeting", nameInput("Zoë/Ada"));
    assert.equal(named.status, 200);
    assert.deepEqual(JSON.parse(named.body), { Hello: "Zoë/Ada" });
    assert.equal(named.requestUrl, `${origin}${prefix}/hello/Zo%C3%AB%2FAda`);
    pass("GET /hello/{name} tried out: 200 with the name echoed");

    // Swagger UI checks the documented rules itself: a 65-character name never leaves the page.
    const sentBefore = apiRequests.filter((r) => r.includes("/hello/")).length;
    const tooLong = await tryOut("get_named_greeting", nameInput("a".repeat(65)));
    assert.match(tooLong.refused ?? "", /no longer than 64 characters/);
    assert.equal(apiRequests.filter((r) => r.includes("/hello/")).length, sentBefore);
    pass("GET /hello/{name} with 65 characters: refused by the documented rule in the page");

    const body = (json) => (operation) => operation.locator("textarea.body-param__text").fill(json);
    const french = await tryOut("post_greeting", body('{"name": "Ada", "language": "fr"}'));
    assert.equal(french.status, 200);
    assert.deepEqual(JSON.parse(french.body), { message: "Bonjour, Ada!", language: "fr" });
    pass("POST /greetings tried out: 200 Bonjour, Ada!");

    const invalid = await tryOut("post_greeting", body('{"language": "xx"}'));
    assert.equal(invalid.status, 422);
    const detail = JSON.parse(invalid.body).detail;
    assert.deepEqual(detail.map((error) => error.type), ["missing", "enum"]);
    pass("POST /greetings with an invalid body tried out: 422 listing both problems");

    const health = await tryOut("get_health");
    assert.equal(health.status, 200);
    pass("GET /healthz tried out: 200");

    if (apiKey) {
      // persistAuthorization: the key is still there after a reload.
      await page.reload();
      await page.locator(".info .title").filter({ hasText: "greeter" }).waitFor();
      await page.locator("button.authorize.locked").first().waitFor();
      triedOut.clear();
      const again = await tryOut("get_greeting");
      assert.equal(again.status, 200);
      pass("after a reload, still authorized: GET / tried out: 200");
    }
  }

  assert.deepEqual(offHost, [], "requests left loopback");
  pass("no request left loopback");
  // Chromium logs every 4xx answer as a console error: the 422 (and 401) provoked above are
  // expected.
  const provoked = (status) => `Failed to load resource: the server responded with a status of ${status}`;
  const expected = [...(screenshot ? [] : [provoked(422)]), ...(apiKey ? [provoked(401)] : [])];
  const unexpected = consoleErrors.filter((message) => !expected.some((e) => message.startsWith(e)));
  assert.deepEqual(unexpected, [], "the console shows errors");
  assert.equal(consoleErrors.length - unexpected.length, expected.length);
  pass(`the console shows no error but the ${expected.length} provoked on purpose`);
} finally {
  await browser.close();
}
console.log(`browser: ${checks.length} checks passed`);

// Calls every operation of greeter through the TypeScript client generated from
// openapi/openapi.json (openapi-typescript types + openapi-fetch), against the live server whose
// base URL is the first argument, with the API key of the second. The compiler checks the calls against the generated types;
// the assertions check the answers.
import assert from "node:assert/strict";
import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

type Language = components["schemas"]["Language"];

const [baseUrl, apiKey] = process.argv.slice(2);
if (!baseUrl || !apiKey) {
  throw new Error("usage: node dist/check_client.js BASE_URL API_KEY");
}
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });
let checks = 0;

{
  // Without the key a protected operation is a documented 401; the probes stay open.
  const anonymous = createClient<paths>({ baseUrl });
  const { error, response } = await anonymous.GET("/");
  assert.equal(response.status, 401);
  assert.equal(response.headers.get("www-authenticate"), "Bearer");
  assert.deepEqual(error, { detail: "Not authenticated" });
  const wrong = createClient<paths>({ baseUrl, headers: { Authorization: "Bearer not-the-key-0123456789" } });
  assert.equal((await wrong.GET("/")).response.status, 401);
  assert.equal((await anonymous.GET("/healthz")).response.status, 200);
  checks++;
}

{
  // The server's GET /aggregate takes the parameters its configuration declares (name, and
  // language with a default), and calls a greeter upstream with them.
  const { data, response } = await client.GET("/aggregate", {
    params: { query: { name: "Zoë/Ada 100%", language: "fr" } },
  });
  assert.equal(response.status, 200);
  const sources = data?.sources ?? [];
  assert.deepEqual(
    sources.map((source) => source.name),
    ["hello", "greetings"],
  );
  for (const source of sources) {
    assert.equal(source.ok, true);
    assert.equal(source.kind, "http");
    assert.equal(source.status, 200);
  }
  assert.deepEqual(sources[0]?.body, { Hello: "Zoë/Ada 100%" });
  assert.equal((sources[1]?.body as { message: string }).message, "Bonjour, Zoë/Ada 100%!");
  checks++;
}

{
  const { error, response } = await client.GET("/aggregate", { params: { query: { name: "" } } });
  assert.equal(response.status, 422);
  assert.ok(error && typeof error.detail !== "string", "a 422 body lists its problems");
  assert.equal(error.detail[0]?.type, "string_too_short");
  assert.deepEqual(error.detail[0]?.loc, ["query", "name"]);
  checks++;
}

{
  const { data, error, response } = await client.GET("/");
  assert.equal(response.status, 200);
  assert.equal(error, undefined);
  assert.deepEqual(data, { Hello: "World" });
  checks++;
}

{
  // The client percent-encodes the name; the server decodes it back.
  const { data, response } = await client.GET("/hello/{name}", {
    params: { path: { name: "Zoë/Ada 100%" } },
  });
  assert.equal(response.status, 200);
  assert.deepEqual(data, { Hello: "Zoë/Ada 100%" });
  checks++;
}

{
  const { data, error, response } = await client.GET("/hello/{name}", {
    params: { path: { name: "a".repeat(65) } },
  });
  assert.equal(response.status, 422);
  assert.equal(data, undefined);
  // The errors are a union: 400, 414 and 431 carry a string `detail`, 422 a list of problems.
  assert.ok(error && typeof error.detail !== "string", "a 422 body lists its problems");
  assert.equal(error.detail.length, 1);
  assert.equal(error.detail[0]?.type, "string_too_long");
  assert.deepEqual(error.detail[0]?.loc, ["path", "name"]);
  checks++;
}

const expected: Record<Language, string> = {
  en: "Hello, Ada!",
  fr: "Bonjour, Ada!",
  es: "¡Hola, Ada!",
  de: "Hallo, Ada!",
  ja: "こんにちは、Adaさん!",
};
for (const [language, message] of Object.entries(expected) as [Language, string][]) {
  const { data, response } = await client.POST("/greetings", { body: { name: "Ada", language } });
  assert.equal(response.status, 200);
  assert.deepEqual(data, { message, language });
  checks++;
}

{
  const { data } = await client.POST("/greetings", { body: { name: "Ada" } });
  assert.deepEqual(data, { message: "Hello, Ada!", language: "en" });
  checks++;
}

{
  // The query twin: the client encodes the parameters, the server decodes them.
  const { data, response } = await client.GET("/greetings", {
    params: { query: { name: "Zoë & Ada", language: "fr" } },
  });
  assert.equal(response.status, 200);
  assert.deepEqual(data, { message: "Bonjour, Zoë & Ada!", language: "fr" });
  checks++;
}

{
  const { error, response } = await client.GET("/greetings", {
    params: { query: { name: "a".repeat(65) } },
  });
  assert.equal(response.status, 422);
  assert.ok(error && typeof error.detail !== "string", "a 422 body lists its problems");
  assert.deepEqual(error.detail[0]?.loc, ["query", "name"]);
  checks++;
}

{
  const { error, response } = await client.POST("/greetings", { body: { name: "" } });
  assert.equal(response.status, 422);
  // POST's errors are a union: 400, 413, 414, 415 and 431 carry a string `detail`, 422 a list.
  assert.ok(error && typeof error.detail !== "string", "a 422 body lists its problems");
  assert.equal(error.detail[0]?.type, "string_too_short");
  assert.deepEqual(error.detail[0]?.loc, ["body", "name"]);
  checks++;
}

{
  const { data, response } = await client.GET("/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(data, { status: "ok" });
  checks++;
}

{
  const { data, response } = await client.GET("/readyz");
  assert.equal(response.status, 200);
  const status: "ready" | "draining" | undefined = data?.status;
  assert.equal(status, "ready");
  checks++;
}

console.log(`typescript client: ${checks} checks passed`);

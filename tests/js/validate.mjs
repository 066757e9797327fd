// Validate real API answers against docs/openapi.yaml (OpenAPI 3.1: JSON Schema 2020-12) with
// ajv, the JSON Schema validator.
//
//   node validate.mjs OPENAPI.yaml CASES.jsonl
//
// Each line of CASES.jsonl names one answer saved by a test:
//   {"method":"get","path":"/v1/events/{eventId}","status":200,"file":"/tmp/.../ev.json"}
// or one webhook message's body: {"webhook":"change","file":...} (the document's webhooks).
// path is the route's template as written in the document. The answer must match the schema
// of that operation's response for that status (application/json); an operation or status
// the document does not describe is an error too. Prints one line per case; exit 1 if any
// failed.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import yaml from "js-yaml";

const [docPath, casesPath] = process.argv.slice(2);
if (!docPath || !casesPath) {
  console.error("usage: node validate.mjs OPENAPI.yaml CASES.jsonl");
  process.exit(2);
}
const doc = yaml.load(readFileSync(docPath, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// The whole document is one schema resource; operations' schemas are reached by JSON pointer,
// so their $refs to #/components/schemas resolve inside it.
ajv.addSchema(doc, "openapi.json");

const pointer = (...parts) =>
  parts.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

let failed = 0;
const lines = readFileSync(casesPath, "utf8").split("\n").filter((l) => l.trim());
for (const line of lines) {
  const c = JSON.parse(line);
  if (c.webhook) {
    // A webhook message: {"webhook":"change","file":...} against webhooks.<name>'s body.
    const label = `webhook ${c.webhook} (${c.file})`;
    const validate = ajv.getSchema("openapi.json#/" + pointer("webhooks", c.webhook, "post",
      "requestBody", "content", "application/json", "schema"));
    const body = JSON.parse(readFileSync(c.file, "utf8"));
    if (validate && validate(body)) {
      console.log(`ok - ${label}`);
    } else {
      console.log(`not ok - ${label}: ${validate ? ajv.errorsText(validate.errors.slice(0, 5)) : "not described"}`);
      failed++;
    }
    continue;
  }
  const label = `${c.method.toUpperCase()} ${c.path} ${c.status} (${c.file})`;
  const op = doc.paths?.[c.path]?.[c.method];
  let resp = op?.responses?.[String(c.status)];
  // A response may be a $ref to #/components/responses/X: follow it.
  let where = ["paths", c.path, c.method, "responses", String(c.status)];
  if (resp?.$ref?.startsWith("#/components/responses/")) {
    const name = resp.$ref.slice("#/components/responses/".length);
    resp = doc.components?.responses?.[name];
    where = ["components", "responses", name];
  }
  if (!resp) {
    console.log(`not ok - ${label}: not described in ${docPath}`);
    failed++;
    continue;
  }
  if (!resp.content?.["application/json"]?.schema) {
    console.log(`not ok - ${label}: the document gives no application/json schema`);
    failed++;
    continue;
  }
  const ref = "openapi.json#/" + pointer(...where, "content", "application/json", "schema");
  const validate = ajv.getSchema(ref);
  let body;
  try {
    body = JSON.parse(readFileSync(c.file, "utf8"));
  } catch (e) {
    console.log(`not ok - ${label}: not JSON: ${e.message}`);
    failed++;
    continue;
  }
  if (validate(body)) {
    console.log(`ok - ${label}`);
  } else {
    const errors = validate.errors.slice(0, 5);
    console.log(`not ok - ${label}: ${ajv.errorsText(errors, { separator: "; " })}` +
      (validate.errors.length > 5 ? ` (and ${validate.errors.length - 5} more)` : ""));
    failed++;
  }
}
console.log(`${lines.length - failed}/${lines.length} answers match the document`);
process.exit(failed ? 1 : 0);

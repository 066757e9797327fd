// Verify one captured webhook message (a line of receiver.mjs's log) with the official
// Standard Webhooks library, optionally after tampering with it, as an attacker would.
//
//   node verify.mjs --secret-file F --message LINE.json [--tamper body|timestamp|id|none]
//
// Prints "verified" and exits 0, or prints the library's refusal and exits 1.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const wh = new Webhook(readFileSync(args["secret-file"], "utf8").trim());
const m = JSON.parse(readFileSync(args.message, "utf8"));
let body = m.body;
const headers = { ...m.headers };
switch (args.tamper ?? "none") {
  case "body": {
    const o = JSON.parse(body);
    if (o.data?.row?.totalCount !== undefined) o.data.row.totalCount += 1000;
    else o.type = "asset.deleted";
    body = JSON.stringify(o);
    break;
  }
  case "timestamp":
    headers["webhook-timestamp"] = String(Number(headers["webhook-timestamp"]) + 1);
    break;
  case "id":
    headers["webhook-id"] = headers["webhook-id"] + "x";
    break;
}
try {
  wh.verify(body, headers);
  console.log("verified");
} catch (e) {
  console.log(`refused: ${e.message ?? e}`);
  process.exit(1);
}

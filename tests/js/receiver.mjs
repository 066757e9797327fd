// A webhook receiver built on the official Standard Webhooks library (npm "standardwebhooks"),
// as an MDM would build one: every message is verified with the endpoint's secret, and the
// answer can be scripted to fail for a while.
//
//   node receiver.mjs --ready FILE --secret-file F --log FILE.jsonl
//                     [--fail-first N] [--fail-status S] [--fail-while-file F] [--delay-ms D]
//
// Listens on 127.0.0.1, port 0; writes "127.0.0.1:PORT" to --ready. Each request becomes one
// JSON line in --log, in the order they arrived: {id, timestamp, type, seq, verified, error,
// status, userAgent, body, headers}. A message that does not verify is answered 400. A verified
// one: S (default 503) while --fail-while-file exists or for the first N verified requests;
// else 204. --delay-ms: every answer waits D ms (a slow receiver: deliveries lag behind the
// changes). SIGTERM: exit 0.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { Webhook } from "standardwebhooks";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
// The secret is read at each message: `webhook add` may make the file after this started.
const verifier = () => new Webhook(readFileSync(args["secret-file"], "utf8").trim());
let failFirst = Number(args["fail-first"] ?? 0);
const failStatus = Number(args["fail-status"] ?? 503);
const delayMs = Number(args["delay-ms"] ?? 0);
writeFileSync(args.log, "");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const entry = { id: req.headers["webhook-id"] ?? null, timestamp: req.headers["webhook-timestamp"] ?? null,
      type: null, seq: null, verified: false, error: null, status: 0,
      userAgent: req.headers["user-agent"] ?? null, body,
      headers: { "webhook-id": req.headers["webhook-id"], "webhook-timestamp": req.headers["webhook-timestamp"],
        "webhook-signature": req.headers["webhook-signature"] } };
    try {
      const msg = verifier().verify(body, req.headers);
      entry.verified = true;
      entry.type = msg.type;
      entry.seq = msg.data?.seq ?? null;
      if ((args["fail-while-file"] && existsSync(args["fail-while-file"])) || failFirst > 0) {
        if (failFirst > 0) failFirst--;
        entry.status = failStatus;
      } else {
        entry.status = 204;
      }
    } catch (e) {
      entry.error = String(e.message ?? e);
      entry.status = 400;
    }
    appendFileSync(args.log, JSON.stringify(entry) + "\n");
    setTimeout(() => {
      res.writeHead(entry.status);
      res.end();
    }, delayMs);
  });
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  writeFileSync(args.ready + ".tmp", `127.0.0.1:${port}\n`);
  // Atomic, as serve's ready file: a reader never sees half a line.
  import("node:fs").then((fs) => fs.renameSync(args.ready + ".tmp", args.ready));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));

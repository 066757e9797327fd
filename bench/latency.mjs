// `make bench`: how long after a notification's 2xx its change reaches a consumer waiting on
// GET /v1/changes, and a webhook receiver (Standard Webhooks, verified), while wrk loads serve
// with the asset_count scenario. Run by bench/run.sh with tests/js's packages.
//
//   node latency.mjs --api URL --key KEY --notify URL --token T --uid UID --seconds S
//                    --ready FILE --go FILE --secret-file F --out FILE.json
//
// It starts a webhook receiver on 127.0.0.1 (port 0; its address written to --ready), waits
// for --go to exist (run.sh has added the webhook endpoint, with --kinds event), then until
// --seconds have passed, after a warm-up of 0.5 s, sends a probe every 20 ms: an
// ASSET_MANAGEMENT ASSOCIATE of one device to a product of its own (adamId 9000000 + n) with
// an eventId of its own, timing the 2xx, and notes when that event's change arrives by the
// long poll and by the webhook. The receiver verifies every message with the standardwebhooks
// package; the endpoint takes only events (the ASSET_COUNT load makes none), so every message
// it gets is a probe's, while the load's asset changes go to another endpoint (run.sh: nginx
// answering 204). The long poll is the feed's one consumer and reads every change. All times
// are this process's clock. Writes {feed: {n, p50_ms, p99_ms, max_ms}, webhook: {...},
// probes, polls, feed_changes, ...}.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Webhook } = require(process.env.VN_JS_MODULES + "/standardwebhooks");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const WARMUP_MS = 500;
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, monotonic

const ack = new Map(), feedAt = new Map(), hookAt = new Map();
let polls = 0, feedChanges = 0, hookMessages = 0, hookRejected = 0;
const adamOf = (n) => String(9000000 + n);
const eventOf = (n) => `lat-${process.pid}-${n}`;

function request(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers, agent, timeout: 70000 }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    if (body) req.write(body);
    req.end();
  });
}

// The webhook receiver.
const wh = new Webhook(readFileSync(args["secret-file"], "utf8").trim());
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const t = now();
    try {
      const msg = wh.verify(Buffer.concat(chunks).toString("utf8"), req.headers);
      const ev = msg.data?.kind === "event" ? msg.data.key?.eventId : undefined;
      if (ev && !hookAt.has(ev)) hookAt.set(ev, t);
      hookMessages++;
      res.writeHead(204);
    } catch {
      hookRejected++;
      res.writeHead(400);
    }
    res.end();
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
writeFileSync(args.ready + ".tmp", `127.0.0.1:${server.address().port}\n`);
renameSync(args.ready + ".tmp", args.ready);
while (!existsSync(args.go)) await new Promise((r) => setTimeout(r, 20));

// The long poll, from the newest change on.
let stop = false, last = 0;
{
  const r = await request(`${args.api}/v1/changes?after=0&limit=1`, "GET",
    { Authorization: `Bearer ${args.key}` });
  last = JSON.parse(r.body).lastSeq;
  const head = await request(`${args.api}/v1/changes?after=${last}&limit=1000`, "GET",
    { Authorization: `Bearer ${args.key}` });
  last = JSON.parse(head.body).lastSeq;
}
const poller = (async () => {
  while (!stop) {
    const r = await request(`${args.api}/v1/changes?after=${last}&limit=1000&wait=5`, "GET",
      { Authorization: `Bearer ${args.key}` });
    const t = now();
    const page = JSON.parse(r.body);
    polls++;
    feedChanges += page.changes.length;
    for (const c of page.changes) {
      const ev = c.kind === "event" ? c.key?.eventId : undefined;
      if (ev && !feedAt.has(ev)) feedAt.set(ev, t);
    }
    last = page.lastSeq;
  }
})();

// The probes, after a warm-up: the load's first half second (wrk opening its connections,
// node compiling this loop, the long poll's first pages) measured the probe itself, not serve
// (the only probes above 20 ms in 6 s runs were the first three, at 80, 59 and 27 ms).
const end = now() + Number(args.seconds) * 1000;
await new Promise((r) => setTimeout(r, WARMUP_MS));
let n = 0;
while (now() < end) {
  n++;
  const body = JSON.stringify({ notificationId: `lat-${process.pid}-${n}`,
    notificationType: "ASSET_MANAGEMENT", uId: args.uid,
    notification: { type: "ASSOCIATE", result: "SUCCESS", eventId: eventOf(n),
      assignments: [{ adamId: adamOf(n), pricingParam: "STDQ", serialNumber: `LAT${n}` }] } });
  const r = await request(args.notify, "POST", { "Content-Type": "application/json",
    Authorization: `Bearer ${args.token}` }, body);
  if (r.status === 200) ack.set(eventOf(n), now());
  await new Promise((res) => setTimeout(res, 20));
}
await new Promise((r) => setTimeout(r, 2000)); // let the last ones arrive
stop = true;

function stats(at) {
  const d = [];
  for (const [ev, t] of ack) if (at.has(ev)) d.push(Math.max(0, at.get(ev) - t));
  d.sort((a, b) => a - b);
  const q = (p) => (d.length ? Math.round(d[Math.min(d.length - 1, Math.floor(p * d.length))] * 100) / 100 : null);
  return { n: d.length, missing: ack.size - d.length, p50_ms: q(0.5), p99_ms: q(0.99),
    max_ms: d.length ? Math.round(d[d.length - 1] * 100) / 100 : null };
}
writeFileSync(args.out, JSON.stringify({ probes: ack.size, feed: stats(feedAt), webhook: stats(hookAt),
  polls, feed_changes: feedChanges, webhook_messages: hookMessages, webhook_rejected: hookRejected }));
server.close();
await Promise.race([poller, new Promise((r) => setTimeout(r, 6000))]);
process.exit(0);

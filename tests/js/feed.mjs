// A consumer of the change feed, as an MDM would write one: long-poll GET /v1/changes from a
// sequence number, write every change (as received, one JSON line each) to a file, keep going
// across a restart of serve (connection refused: retry), and check on the way that seq only
// grows and nothing arrives twice.
//
//   node feed.mjs --url URL --key KEY --out FILE [--after N] [--stop-file F] [--limit N]
//                 [--wait S] [--deadline S] [--latency-file F] [--ready-file F]
//
// With --ready-file (serve's), a connection that fails makes it read the API's address again
// from the file's second line: serve may come back on another port.
//
// Stops when --stop-file exists and a poll returned no change (or after --deadline seconds,
// exit 1). With --latency-file, appends for each change: seq, and the time (ms since the epoch)
// it was received. Exit 0 when done, 1 on a broken order, a duplicate, an unexpected status.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
let url = new URL(args.url);
const deadline = Date.now() + Number(args.deadline ?? 120) * 1000;
let last = Number(args.after ?? 0);
const seen = new Set();
writeFileSync(args.out, "");

function get(path) {
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(
      { host: url.hostname, port: url.port, path, headers: { Authorization: `Bearer ${args.key}` },
        timeout: 90000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
        res.on("error", reject);
      });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

for (;;) {
  if (Date.now() > deadline) {
    console.error(`feed: deadline passed at seq ${last}`);
    process.exit(1);
  }
  const stopNow = args["stop-file"] && existsSync(args["stop-file"]);
  let r;
  try {
    r = await get(`/v1/changes?after=${last}&limit=${args.limit ?? 500}&wait=${stopNow ? 0 : args.wait ?? 2}`);
  } catch (e) {
    await pause(50); // serve restarting: try again
    if (args["ready-file"]) {
      let addr;
      try {
        addr = readFileSync(args["ready-file"], "utf8").split("\n")[1];
      } catch {
        // not there (yet, or any more): the test removes it before it starts serve again
      }
      if (addr) url = new URL(`${url.protocol}//${addr}`);
    }
    continue;
  }
  if (r.status === 503) {
    await pause(100);
    continue;
  }
  if (r.status !== 200) {
    console.error(`feed: status ${r.status} after seq ${last}: ${r.body.slice(0, 300)}`);
    process.exit(1);
  }
  const page = JSON.parse(r.body);
  const now = Date.now();
  for (const c of page.changes) {
    if (c.seq <= last || seen.has(c.seq)) {
      console.error(`feed: seq ${c.seq} after ${last} (out of order or twice)`);
      process.exit(1);
    }
    seen.add(c.seq);
    last = c.seq;
    appendFileSync(args.out, JSON.stringify(c) + "\n");
    if (args["latency-file"]) appendFileSync(args["latency-file"], `${c.seq} ${now}\n`);
  }
  if (page.lastSeq !== last) {
    console.error(`feed: lastSeq ${page.lastSeq} is not the last change read (${last})`);
    process.exit(1);
  }
  if (page.changes.length === 0 && stopNow) break;
}
console.log(`feed: ${seen.size} changes, last seq ${last}`);

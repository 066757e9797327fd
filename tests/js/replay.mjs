// Replay a change feed (the JSON lines feed.mjs wrote) into a mirror, as an MDM would, and
// compare it with what the read routes show now: every object of every kind must be there,
// equal, and nothing else.
//
//   node replay.mjs --url URL --key KEY --changes FILE [--uid UID]
//
// With --uid, only that location's objects are compared (other tests' locations share no
// database, but a test may add locations it does not want compared). Exit 0 when equal;
// otherwise prints the first differences and exits 1.
import { readFileSync } from "node:fs";
import http from "node:http";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const url = new URL(args.url);

const routes = {
  location: "/v1/locations",
  asset: "/v1/assets",
  assignment: "/v1/assignments",
  user: "/v1/users",
  subscription: "/v1/subscriptions",
  subscriptionAssignment: "/v1/subscription-assignments",
  event: "/v1/events",
};
// The key of an object of each kind, as the feed's "key" names it.
const keyOf = {
  location: (o) => ({ uId: o.uId }),
  asset: (o) => ({ uId: o.uId, adamId: o.adamId, pricingParam: o.pricingParam }),
  assignment: (o) =>
    o.clientUserId !== undefined
      ? { uId: o.uId, adamId: o.adamId, pricingParam: o.pricingParam, clientUserId: o.clientUserId }
      : { uId: o.uId, adamId: o.adamId, pricingParam: o.pricingParam, serialNumber: o.serialNumber },
  user: (o) => ({ uId: o.uId, clientUserId: o.clientUserId }),
  subscription: (o) => ({ uId: o.uId, adamId: o.adamId }),
  subscriptionAssignment: (o) => ({ uId: o.uId, adamId: o.adamId, clientUserId: o.clientUserId }),
  event: (o) => ({ eventId: o.eventId }),
};

// Objects compare by their JSON with sorted keys.
const canon = (v) =>
  Array.isArray(v)
    ? `[${v.map(canon).join(",")}]`
    : v && typeof v === "object"
      ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`
      : JSON.stringify(v);

function get(path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path, headers: { Authorization: `Bearer ${args.key}` } },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (body += d));
          res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body))
            : reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`))));
        })
      .on("error", reject);
  });
}

// The replayed mirror: kind -> canon(key) -> row.
const mirror = {};
for (const k of Object.keys(routes)) mirror[k] = new Map();
let n = 0;
for (const line of readFileSync(args.changes, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  n++;
  const m = mirror[c.kind];
  if (!m) {
    console.log(`not ok - change ${c.seq} of an unknown kind '${c.kind}'`);
    process.exit(1);
  }
  if (c.op === "delete") m.delete(canon(c.key));
  else m.set(canon(c.key), c.row);
}

let bad = 0;
for (const [kind, route] of Object.entries(routes)) {
  const now = new Map();
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: "1000" });
    if (args.uid) q.set("uId", args.uid);
    if (cursor) q.set("cursor", cursor);
    const page = await get(`${route}?${q}`);
    for (const o of page.items) now.set(canon(keyOf[kind](o)), o);
    cursor = page.nextCursor;
  } while (cursor);
  const replayed = mirror[kind];
  if (args.uid) for (const [k, row] of replayed) if (row && row.uId !== args.uid) replayed.delete(k);
  for (const [k, o] of now) {
    if (!replayed.has(k)) {
      if (bad++ < 10) console.log(`not ok - ${kind} ${k} is in ${route} but not in the replay`);
    } else if (canon(replayed.get(k)) !== canon(o)) {
      if (bad++ < 10)
        console.log(`not ok - ${kind} ${k}: replay ${canon(replayed.get(k))} != route ${canon(o)}`);
    }
  }
  for (const k of replayed.keys())
    if (!now.has(k) && bad++ < 10) console.log(`not ok - ${kind} ${k} is in the replay, not in ${route}`);
  console.log(`${kind}: ${now.size} objects`);
}
if (bad) {
  console.log(`${bad} difference(s) between the replay of ${n} changes and the read routes`);
  process.exit(1);
}
console.log(`the replay of ${n} changes equals the read routes`);

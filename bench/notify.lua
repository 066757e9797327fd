-- wrk script of `make bench` (bench/run.sh): POST notifications with unique notificationIds.
--
--   wrk ... -s bench/notify.lua -- MODE UID TOKEN RUN [DUP_IDS]
--
-- MODE: asset_count (one ASSET_COUNT each), assignments100 (ASSET_MANAGEMENT ASSOCIATE with
-- 100 assignments, unique serials), duplicates (re-posts RUN-<thread>-<n> ids of an earlier
-- asset_count run, n <= DUP_IDS). Ids are RUN-<thread>-<n>: unique across threads and runs.
-- done() prints one JSON line (prefixed "BENCH ") with the numbers and each thread's count
-- of generated ids, which run.sh uses to check the database id by id.

local threads = {}
local next_tid = 1

function setup(thread)
    thread:set("tid", next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

local mode, uid, token, run, dup_ids
counter = 0

function init(args)
    mode, uid, token, run = args[1], args[2], args[3], args[4]
    dup_ids = tonumber(args[5] or "0")
    wrk.method = "POST"
    wrk.path = "/notifications"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. token
end

local function asset_count(id)
    return string.format('{"notificationId":"%s","notificationType":"ASSET_COUNT","uId":"%s",' ..
        '"notification":{"adamId":"408709785","pricingParam":"STDQ","countDelta":1}}', id, uid)
end

local function assignments100(id)
    local items = {}
    for i = 1, 100 do
        items[i] = string.format('{"adamId":"361309726","pricingParam":"STDQ","serialNumber":"%s-%d"}',
            id, i)
    end
    return string.format('{"notificationId":"%s","notificationType":"ASSET_MANAGEMENT","uId":"%s",' ..
        '"notification":{"type":"ASSOCIATE","result":"SUCCESS","eventId":"bench-event",' ..
        '"assignments":[%s]}}', id, uid, table.concat(items, ","))
end

function request()
    counter = counter + 1
    local body
    if mode == "duplicates" then
        local n = (counter - 1) % dup_ids + 1
        body = asset_count(string.format("%s-%d-%d", run, tid, n))
    elseif mode == "assignments100" then
        body = assignments100(string.format("%s-%d-%d", run, tid, counter))
    else
        body = asset_count(string.format("%s-%d-%d", run, tid, counter))
    end
    return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
    local parts = {}
    for _, t in ipairs(threads) do
        table.insert(parts, string.format('{"tid":%d,"generated":%d}', t:get("tid"), t:get("counter")))
    end
    local e = summary.errors
    io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"non_2xx":%d,' ..
        '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"threads":[%s]}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
        latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ",")))
end

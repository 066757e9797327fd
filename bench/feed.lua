-- wrk script of `make bench` (bench/run.sh, scenario asset_count_bare): a consumer following
-- the change feed, as cheap as a consumer can be, so that what it costs is vppnotify's.
--
--   wrk -t 1 -c 1 ... -s bench/feed.lua URL -- API_KEY AFTER
--
-- One connection long-polls GET /v1/changes?after=LAST&limit=1000&wait=5, LAST the lastSeq of
-- the previous answer (read from the body with a pattern, no JSON parser), from AFTER on. It
-- counts the changes it received (their "seq" fields). done() prints one JSON line (prefixed
-- "FEED ") with the polls, the changes and the last lastSeq, which run.sh checks against the
-- log: a consumer that lost a change fails the bench.

-- Globals: done() reads them from the thread with thread:get().
key, last, polls, changes, failed = nil, 0, 0, 0, 0

function init(args)
    key = args[1]
    last = tonumber(args[2] or "0")
    wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
    return wrk.format("GET", "/v1/changes?after=" .. last .. "&limit=1000&wait=5")
end

function response(status, headers, body)
    if status ~= 200 then
        failed = failed + 1
        return
    end
    polls = polls + 1
    local seq = body:match('"lastSeq":(%d+)')
    if seq then
        last = tonumber(seq)
    end
    local _, n = body:gsub('"seq":', "")
    changes = changes + n
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    for _, t in ipairs(threads) do
        io.write(string.format('FEED {"polls":%d,"changes":%d,"last_seq":%d,"failed":%d}\n',
            t:get("polls"), t:get("changes"), t:get("last"), t:get("failed")))
    end
end

-- One wrk script for every target: a random id from a file, put into a path.
--   wrk ... -s targets.lua <url> -- <ids file | -> <path prefix> <path suffix> <mode> [<status>]
-- ids file "-": no id, the path is prefix .. suffix (the ceiling).
-- mode: get | gzip (a get with Accept-Encoding: gzip) | not-modified (If-None-Match with the
-- version every seeded item has) | put
-- status: the one every response must have (304 for not-modified); none given: any 2xx.
-- BENCH_API_KEY (environment, kept off the command line): sent as Authorization: Bearer on
-- every request; unset or empty: no key (the ceiling).
-- wrk itself counts only statuses >= 400, so a 200 where a 304 was wanted would pass unseen:
-- each thread counts the responses it did not expect, and done() prints their sum as
-- "Unexpected statuses: N" (threads are separate Lua states, reached through setup()).
local ids = {}
local prefix, suffix, mode, expected
local key = os.getenv("BENCH_API_KEY") or ""
local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == "-" then
    ids[1] = ""
  else
    for line in io.lines(args[1]) do
      ids[#ids + 1] = line
    end
  end
  prefix, suffix, mode = args[2], args[3] or "", args[4] or "get"
  expected = tonumber(args[5] or "")
  unexpected = 0 -- a global: done() reads it from each thread with thread:get()
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

-- The mode's headers, with the key's.
local function headers(extra)
  if key ~= "" then
    extra["Authorization"] = "Bearer " .. key
  end
  return extra
end

function request()
  local path = prefix .. ids[math.random(#ids)] .. suffix
  if mode == "not-modified" then
    return wrk.format("GET", path, headers({["If-None-Match"] = '"1"'}))
  elseif mode == "gzip" then
    return wrk.format("GET", path, headers({["Accept-Encoding"] = "gzip"}))
  elseif mode == "put" then
    counter = counter + 1
    local body = string.format('{"config": {"writer": %d, "n": %d}}', thread_id or 0, counter)
    return wrk.format("PUT", path, headers({["Content-Type"] = "application/json"}), body)
  end
  return wrk.format("GET", path, headers({}))
end

function response(status, headers, body)
  if expected then
    if status ~= expected then
      unexpected = unexpected + 1
    end
  elseif status < 200 or status > 299 then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("unexpected") or 0)
  end
  io.write(string.format("Unexpected statuses: %d\n", total))
end

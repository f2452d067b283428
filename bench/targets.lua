-- One wrk script for every target: a random id from a file, put into a path.
--   wrk ... -s targets.lua <url> -- <ids file | -> <path prefix> <path suffix> <mode> [<status>]
--       [<body file>]
-- ids file "-": no id, the path is prefix .. suffix (the ceiling).
-- mode: get | gzip (a get with Accept-Encoding: gzip) | not-modified (If-None-Match with the
-- version every seeded item has) | put | put-spread (a put; see below)
-- status: the one every response must have (304 for not-modified); none given: any 2xx.
-- body file: a put's body, in which "@writer@" and "@n@" are replaced by the thread's number
-- and its count (bench/validators.py body_template: a 1 KB config that passes its schema);
-- none given, or "": a tiny config of those two numbers.
-- BENCH_API_KEY (environment, kept off the command line): sent as Authorization: Bearer on
-- every request; unset or empty: no key (the ceiling).
-- wrk itself counts only statuses >= 400, so a 200 where a 304 was wanted would pass unseen:
-- each thread counts the responses it did not expect, and done() prints their sum as
-- "Unexpected statuses: N" (threads are separate Lua states, reached through setup()).
-- Every put carries a new body (the thread's number and a count): a repeated body would be a
-- no-op write, with no revision and no audit event.
-- put-spread: writes to different ids must not meet on one row lock, since what it measures
-- is how writes that need not wait for each other scale. So each thread takes its own share
-- of the ids (every BENCH_WRK_THREADS-th, from its own number on: the suite sets it to wrk's
-- -t), walks it in order, and skips an id it has a request out for; the response's "id"
-- frees it. With at least as many ids in a share as the thread has connections, no two
-- requests are ever out for one id. wrk's own first call of request() in its first thread
-- checks the script and sends nothing, so it takes no id. A request whose response never
-- names its id (an error, a broken connection) keeps it taken; when all are, the next in
-- order goes anyway.
local ids = {}
local prefix, suffix, mode, expected
local template -- the body file's text; nil: the tiny config
local key = os.getenv("BENCH_API_KEY") or ""
local counter = 0
local threads = {}
local cursor = 0
local checked = false -- wrk has made its check call (see above)
local out = {} -- put-spread: the ids this thread has a request out for

-- The mode's headers, with the key's.
local function headers(extra)
  if key ~= "" then
    extra["Authorization"] = "Bearer " .. key
  end
  return extra
end

-- This thread's share of `all`: every `count`-th, from its own number on (all, when there is
-- no share for it).
local function share(all, number, count)
  local mine = {}
  for i = number % count + 1, #all, count do
    mine[#mine + 1] = all[i]
  end
  if #mine == 0 then
    return all
  end
  return mine
end

-- put-spread's next id: the next in order that has no request out, else the next in order.
local function next_free_id()
  for _ = 1, #ids do
    cursor = cursor % #ids + 1
    if not out[ids[cursor]] then
      return ids[cursor]
    end
  end
  cursor = cursor % #ids + 1
  return ids[cursor]
end

local function put(path)
  counter = counter + 1
  local body
  if template then
    -- gsub gives two values, the text and a count: the parentheses keep the text.
    body = (template:gsub("@writer@", tostring(thread_id or 0)):gsub("@n@", tostring(counter)))
  else
    body = string.format('{"config": {"writer": %d, "n": %d}}', thread_id or 0, counter)
  end
  return wrk.format("PUT", path, headers({["Content-Type"] = "application/json"}), body)
end

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
  if args[6] and args[6] ~= "" then
    local file = assert(io.open(args[6], "r"))
    template = file:read("*a")
    file:close()
  end
  if mode == "put-spread" then
    ids = share(ids, thread_id or 0, tonumber(os.getenv("BENCH_WRK_THREADS") or "") or 1)
  end
  unexpected = 0 -- a global: done() reads it from each thread with thread:get()
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  if mode == "put-spread" then
    local id = next_free_id()
    if checked or thread_id ~= 0 then
      out[id] = true
    end
    checked = true
    return put(prefix .. id .. suffix)
  end
  local path = prefix .. ids[math.random(#ids)] .. suffix
  if mode == "not-modified" then
    return wrk.format("GET", path, headers({["If-None-Match"] = '"1"'}))
  elseif mode == "gzip" then
    return wrk.format("GET", path, headers({["Accept-Encoding"] = "gzip"}))
  elseif mode == "put" then
    return put(path)
  end
  return wrk.format("GET", path, headers({}))
end

function response(status, headers, body)
  if mode == "put-spread" and body then
    local id = body:match('"id"%s*:%s*"([^"]+)"')
    if id then
      out[id] = nil
    end
  end
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

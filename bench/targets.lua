-- One wrk script for every target: a random id from a file, put into a path.
--   wrk ... -s targets.lua <url> -- <ids file> <path prefix> <path suffix> <mode>
-- mode: get | not-modified (If-None-Match with the version every seeded item has) | put
local ids = {}
local prefix, suffix, mode
local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  prefix, suffix, mode = args[2], args[3] or "", args[4] or "get"
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  local path = prefix .. ids[math.random(#ids)] .. suffix
  if mode == "not-modified" then
    return wrk.format("GET", path, {["If-None-Match"] = '"1"'})
  elseif mode == "put" then
    counter = counter + 1
    local body = string.format('{"config": {"writer": %d, "n": %d}}', thread_id or 0, counter)
    return wrk.format("PUT", path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", path)
end

-- PUT a new config to one configuration on every request; a body that repeats would be a
-- no-op (no revision, no audit event) and measure less than a real write.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  local body = string.format('{"config": {"writer": %d, "n": %d}}', id, counter)
  return wrk.format("PUT", nil, {["Content-Type"] = "application/json"}, body)
end

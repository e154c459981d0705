-- wrk script for bench/peers/etcd.sh: every request is one etcd Txn that puts three keys
-- atomically (POST /v3/kv/txn on etcd's JSON gRPC gateway), the shape of pcommit bench's
-- transactions (one key on each of 3 participants).
--
-- Arguments (after `--` on wrk's command line): KEYS PAYLOAD_BYTES CONNS_PER_THREAD
--   KEYS            keys per "shard" per connection, used in turn (pcommit bench's --keys)
--   PAYLOAD_BYTES   value size of each put
--   CONNS_PER_THREAD connections wrk gives each thread (connections / threads)
-- wrk's request() does not say which connection it fills, so a thread cycles through
-- KEYS * CONNS_PER_THREAD prepared bodies: the requests in flight on one thread never
-- share a key. Threads use disjoint key names. (etcd serializes every write through one
-- Raft log, so distinct keys matter for the shape only, not for conflicts.)
--
-- A response counts as committed if it is HTTP 200 with "succeeded":true; done() prints
-- one PEER_RESULT line that etcd.sh reads.

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1)
      .. (b and alphabet:sub(c3 + 1, c3 + 1) or "=") .. (c and alphabet:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local requests = {}
local nextRequest = 1
fails = 0
local nonOk = 0

function init(args)
  local keys = tonumber(args[1]) or 8
  local payload = tonumber(args[2]) or 100
  local conns = tonumber(args[3]) or 1
  local value = base64(string.rep("x", payload))
  local headers = { ["Content-Type"] = "application/json" }
  for slot = 0, keys * conns - 1 do
    local puts = {}
    for shard = 1, 3 do
      local key = string.format("peer/t%d/s%d/k%d", tid, shard, slot)
      puts[#puts + 1] = string.format('{"request_put":{"key":"%s","value":"%s"}}', base64(key), value)
    end
    local body = '{"compare":[],"success":[' .. table.concat(puts, ",") .. '],"failure":[]}'
    requests[#requests + 1] = wrk.format("POST", "/v3/kv/txn", headers, body)
  end
end

function request()
  local r = requests[nextRequest]
  nextRequest = nextRequest % #requests + 1
  return r
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"succeeded":true', 1, true) then
    fails = fails + 1
    if nonOk < 3 then
      nonOk = nonOk + 1
      io.stderr:write(string.format("etcd_txn.lua: HTTP %d: %s\n", status, body:sub(1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do
    failed = failed + (tonumber(t:get("fails")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "PEER_RESULT requests=%d duration_us=%d failed=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p90=%d p99=%d max=%d\n",
    summary.requests, summary.duration, failed, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

-- lib.lua: prepended by store.c to every other script, so each script is
-- self-contained. ARGV[1] is the key prefix of one show, "sm:{SHOW}:": every
-- key a script touches starts with it, so a show lives in one cluster slot.
--
-- Keys of a show:
--   seat:<id>    "h:<ref>" with PXAT at the hold deadline, or "b:<booking>"
--   hold:<ref>   hash: buyer, seats (space separated), exp (ms), frozen (ms or 0),
--                ip (the address its seats count against, '' or absent: none)
--   buyer:<id>   the ref of that buyer's hold
--   due          zset ref -> deadline: what the sweep expires
--   frozen       zset ref -> freeze time: holds being confirmed
--   booked       hash seat -> booking id (a copy of SQLite's active bookings)
--   ipseats:<a>  seats held by the holds whose field ip is client address a
--                (hold.lua's per-address cap); kept by every script that
--                adds seats to a hold or takes them out (ip_uncount)
--   seq          counter, +1 per state-changing operation
--   ev           pub/sub channel: one JSON message per operation
--   never        never written: read first by every script (below)
--   events       stream of webhook events (hold.created, ...), one entry per
--                transition, written in the same script as the transition
--                (docs/webhooks.md); trimmed to about EVENTS_MAXLEN entries
local P = ARGV[1]
-- First, before any write: read a key that never exists. While the show's
-- slot moves to another Redis Cluster node, its old node stops a script at
-- the first key it does not have ("non local key"); this one stops it
-- before it has written anything, and rcluster sends it again once the slot
-- has moved (rcluster.h). Elsewhere it costs one lookup.
redis.call('EXISTS', P .. 'never')
local SHOW = string.sub(P, 5, -3)
local EVENTS_MAXLEN = 10000
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local MSGS = {}

local function split(s)
  local t = {}
  for w in string.gmatch(s or '', '%S+') do t[#t + 1] = w end
  return t
end

local function hold_obj(ref, seats, exp)
  return {ref = ref, seats = seats, expires_at = exp}
end

-- A JSON array of strings; cjson would write an empty table as {}.
local function jarr(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end

-- The data of a hold event as ordered JSON text: the hold (ref, seats,
-- expires_at), then extra fields already encoded ({name, json} pairs).
-- Never the buyer: events go to other systems.
local function hold_data(ref, seats, exp, extra)
  local t = {'{"ref":', cjson.encode(ref), ',"seats":', jarr(seats), ',"expires_at":',
             string.format('%d', exp or 0)}
  for _, kv in ipairs(extra or {}) do
    t[#t + 1] = ',"' .. kv[1] .. '":' .. kv[2]
  end
  t[#t + 1] = '}'
  return table.concat(t)
end

-- Appends the webhook event of a transition to the show's stream. data is
-- JSON text. The id is unique: a show's seq never repeats within a
-- millisecond, even if Redis lost its data.
local function event(seq, etype, data)
  local id = 'evt_' .. SHOW .. '_' .. seq .. '_' .. NOW
  local e = '{"id":' .. cjson.encode(id) .. ',"type":"' .. etype .. '","show":' ..
            cjson.encode(SHOW) .. ',"seq":' .. seq .. ',"created_at":' ..
            string.format('%d', NOW) .. ',"data":' .. data .. '}'
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', etype, 'event', e)
end

-- One operation: bump seq once and tell every process what changed.
-- ch is a list of {seat, state}; hold is the owner's hold after it, or false.
-- ev, if given, is the webhook event of the operation: {type, data JSON}.
-- extra: more fields for this op's message (an expire's deadline and time).
local function publish(op, buyer, ref, ch, hold, booking, ev, extra)
  local seq = redis.call('INCR', P .. 'seq')
  local m = {seq = seq, op = op, buyer = buyer or '', ref = ref or '', ch = ch,
             hold = hold or false, booking = booking or 0}
  for k, v in pairs(extra or {}) do m[k] = v end
  local s = cjson.encode(m)
  redis.call('PUBLISH', P .. 'ev', s)
  MSGS[#MSGS + 1] = s
  if ev then event(seq, ev[1], ev[2]) end
  return seq
end

-- n seats of a hold counted against address ip (a hold's field ip) are
-- gone. The key goes when nothing is left counted.
local function ip_uncount(ip, n)
  if not ip or ip == '' or n <= 0 then return end
  local k = P .. 'ipseats:' .. ip
  if redis.call('DECRBY', k, n) <= 0 then redis.call('DEL', k) end
end

-- Ends a hold: its seats that are still its own, or already gone by TTL,
-- become empty. Seats someone else took after the TTL are left alone.
local function expire_hold(ref)
  local hk = P .. 'hold:' .. ref
  local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp', 'ip')
  redis.call('ZREM', P .. 'due', ref)
  redis.call('ZREM', P .. 'frozen', ref)
  if not h[1] then return end
  local ch, seats = {}, split(h[2])
  ip_uncount(h[4], #seats)
  for _, s in ipairs(seats) do
    local k = P .. 'seat:' .. s
    local v = redis.call('GET', k)
    if v == 'h:' .. ref then
      redis.call('DEL', k)
      ch[#ch + 1] = {s, 'e'}
    elseif not v then
      ch[#ch + 1] = {s, 'e'}
    end
  end
  redis.call('DEL', hk)
  if h[1] ~= '' and redis.call('GET', P .. 'buyer:' .. h[1]) == ref then
    redis.call('DEL', P .. 'buyer:' .. h[1])
  end
  -- deadline and at (both unix ms, Redis's clock) let a process measure
  -- how late the expiry came (metrics); readers that do not know them skip
  -- them.
  local ev = false
  if h[1] ~= '' then -- a walk-up sale's lock is no hold anyone saw
    ev = {'hold.expired', hold_data(ref, seats, tonumber(h[3]))}
  end
  publish('expire', h[1], ref, ch, false, nil, ev, {deadline = tonumber(h[3]) or 0, at = NOW})
end

-- Every script answers {status, detail, message...}: the messages are what
-- it published, so the caller's process can apply them without waiting for
-- pub/sub.
local function result(status, detail)
  local r = {status, detail or ''}
  for _, m in ipairs(MSGS) do r[#r + 1] = m end
  return r
end

-- Takes a seat out of the hold that holds it (when a booking wins over the
-- hold, after a data loss or a confirmation that was given up on): the hold
-- shrinks, or ends when nothing is left, and its owner is told.
local function strip_seat(ref, seat)
  local hk = P .. 'hold:' .. ref
  local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp', 'ip')
  if not h[1] then return end
  local keep, had = {}, split(h[2])
  for _, x in ipairs(had) do
    if x ~= seat then keep[#keep + 1] = x end
  end
  if #keep == 0 then
    expire_hold(ref)
    return
  end
  redis.call('HSET', hk, 'seats', table.concat(keep, ' '))
  ip_uncount(h[4], #had - #keep)
  publish('sync', h[1], ref, {}, hold_obj(ref, keep, tonumber(h[3])), nil,
          {'hold.released', hold_data(ref, {seat}, tonumber(h[3]),
                                      {{'remaining', jarr(keep)}, {'reason', '"booked"'}})})
end

-- Books a seat for booking id whatever holds it now: SQLite is the truth.
local function book_seat(seat, id, own_ref)
  local k = P .. 'seat:' .. seat
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, 2) == 'h:' and string.sub(v, 3) ~= own_ref then
    strip_seat(string.sub(v, 3), seat)
  end
  redis.call('SET', k, 'b:' .. id)
  redis.call('HSET', P .. 'booked', seat, id)
end

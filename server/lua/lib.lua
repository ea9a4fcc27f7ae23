-- lib.lua: prepended by store.c to every other script, so each script is
-- self-contained. ARGV[1] is the key prefix of one show, "sm:{SHOW}:": every
-- key a script touches starts with it, so a show lives in one cluster slot.
--
-- Keys of a show:
--   seat:<id>    "h:<ref>" with PXAT at the hold deadline, or "b:<booking>"
--   hold:<ref>   hash: buyer, seats (space separated), exp (ms), frozen (ms or 0)
--   buyer:<id>   the ref of that buyer's hold
--   due          zset ref -> deadline: what the sweep expires
--   frozen       zset ref -> freeze time: holds being confirmed
--   booked       hash seat -> booking id (a copy of SQLite's active bookings)
--   seq          counter, +1 per state-changing operation
--   ev           pub/sub channel: one JSON message per operation
local P = ARGV[1]
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

-- One operation: bump seq once and tell every process what changed.
-- ch is a list of {seat, state}; hold is the owner's hold after it, or false.
-- extra: more fields for this op (an expire's deadline and time).
local function publish(op, buyer, ref, ch, hold, booking, extra)
  local seq = redis.call('INCR', P .. 'seq')
  local m = {seq = seq, op = op, buyer = buyer or '', ref = ref or '', ch = ch,
             hold = hold or false, booking = booking or 0}
  for k, v in pairs(extra or {}) do m[k] = v end
  local s = cjson.encode(m)
  redis.call('PUBLISH', P .. 'ev', s)
  MSGS[#MSGS + 1] = s
  return seq
end

-- Ends a hold: its seats that are still its own, or already gone by TTL,
-- become empty. Seats someone else took after the TTL are left alone.
local function expire_hold(ref)
  local hk = P .. 'hold:' .. ref
  local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp')
  redis.call('ZREM', P .. 'due', ref)
  redis.call('ZREM', P .. 'frozen', ref)
  if not h[1] then return end
  local ch = {}
  for _, s in ipairs(split(h[2])) do
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
  publish('expire', h[1], ref, ch, false, 0, {deadline = tonumber(h[3]) or 0, at = NOW})
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
  local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp')
  if not h[1] then return end
  local keep = {}
  for _, x in ipairs(split(h[2])) do
    if x ~= seat then keep[#keep + 1] = x end
  end
  if #keep == 0 then
    expire_hold(ref)
    return
  end
  redis.call('HSET', hk, 'seats', table.concat(keep, ' '))
  publish('sync', h[1], ref, {}, hold_obj(ref, keep, tonumber(h[3])))
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

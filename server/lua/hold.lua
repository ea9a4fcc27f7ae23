-- hold: adds seats to a buyer's hold in one show, all or nothing.
-- ARGV: prefix, buyer id, ttl ms, max seats, 3 candidate refs, client
-- address key ('' for none), seats per address (0: no cap), seat ids...
--
-- Seats held per address: ipseats:<address> counts the seats of the holds
-- whose hash names that address (field ip: the address of the request that
-- last added seats to it). Every script that takes seats out of a hold
-- (release, book, and expire_hold and strip_seat in lib.lua: the sweep, the
-- keyspace-event sweep, confirmations) decrements it in the same step, so
-- the count stays exact however a hold ends, and the check below is one GET
-- instead of a read of every hold of the address. The key expires well after
-- the last deadline it counts, in case a count was ever lost.
local buyer, ttl, max = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ipkey, ipcap = ARGV[8], tonumber(ARGV[9])
local bk = P .. 'buyer:' .. buyer
local ref = redis.call('GET', bk)
local seats, exp, oldip = {}, 0, ''
if ref then
  local h = redis.call('HMGET', P .. 'hold:' .. ref, 'seats', 'exp', 'frozen', 'ip')
  if not h[1] then
    redis.call('DEL', bk)
    ref = nil
  elseif h[3] ~= '0' then
    return result('hold_locked')
  elseif tonumber(h[2]) <= NOW then
    expire_hold(ref)
    ref = nil
  else
    seats, exp, oldip = split(h[1]), tonumber(h[2]), h[4] or ''
  end
end
local mine = {}
for _, s in ipairs(seats) do mine[s] = true end
local new, bad = {}, {}
for i = 10, #ARGV do
  local s = ARGV[i]
  if not mine[s] then
    if redis.call('EXISTS', P .. 'seat:' .. s) == 1 then bad[#bad + 1] = s else new[#new + 1] = s end
  end
end
if #bad > 0 then return result('seat_unavailable', cjson.encode(bad)) end
if #seats + #new > max then return result('hold_limit') end
if #new == 0 then return result('ok', cjson.encode(hold_obj(ref, seats, exp))) end
-- Counted by reads only: the first write of this script must be one Redis
-- refuses at maxmemory (SET below), or a full Redis would take the hold
-- anyway (a script that has written may go on writing). A request without an
-- address (staff) leaves the hold counted where it was. A hold that moves to
-- another address takes its seats with it (moved).
local ip = ipkey ~= '' and ipkey or oldip
local moved = (ip ~= '' and oldip ~= ip) and #seats or 0
if ipkey ~= '' and ipcap > 0 then
  local have = tonumber(redis.call('GET', P .. 'ipseats:' .. ipkey) or '0')
  if have + moved + #new > ipcap then return result('hold_limit', 'ip') end
end
local fresh = not ref
if fresh then
  for i = 5, 7 do
    if redis.call('EXISTS', P .. 'hold:' .. ARGV[i]) == 0 then ref = ARGV[i] break end
  end
  if not ref then return result('retry') end
  exp = NOW + ttl
  redis.call('SET', bk, ref)
  redis.call('ZADD', P .. 'due', exp, ref)
end
local ch = {}
for _, s in ipairs(new) do
  redis.call('SET', P .. 'seat:' .. s, 'h:' .. ref, 'PXAT', exp)
  seats[#seats + 1] = s
  ch[#ch + 1] = {s, 'p'}
end
redis.call('HSET', P .. 'hold:' .. ref, 'buyer', buyer, 'seats', table.concat(seats, ' '),
           'exp', exp, 'frozen', '0', 'ip', ip)
if ip ~= '' then
  ip_uncount(oldip, moved)
  local ik = P .. 'ipseats:' .. ip
  redis.call('INCRBY', ik, #new + moved)
  -- The decrements are exact; the TTL only keeps a stray key from living
  -- forever. It outlives the last deadline by far: a hold lasts past its
  -- deadline until the sweep or a keyspace event ends it, and a frozen one
  -- (a confirmation in flight) until it is booked; a key gone before them
  -- would be recreated from 0 and their later DECRBY would eat the new count.
  local keep = exp + 600000
  if redis.call('PTTL', ik) < keep - NOW then redis.call('PEXPIREAT', ik, keep) end
end
local hold = hold_obj(ref, seats, exp)
local ev
if fresh then
  ev = {'hold.created', hold_data(ref, seats, exp)}
else -- more seats in the same hold: an extension of the protocol's event list
  ev = {'hold.updated', hold_data(ref, seats, exp, {{'added', jarr(new)}})}
end
publish('hold', buyer, ref, ch, hold, nil, ev)
return result('ok', cjson.encode(hold))

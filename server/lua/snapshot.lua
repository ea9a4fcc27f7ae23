-- snapshot: everything a process needs to rebuild its cache of a show, at
-- one seq. Overdue holds are expired first so the answer never shows a seat
-- pending past its deadline. ARGV[2] is the caller's last seq: if Redis lost
-- its data, seq restarts from there instead of going backwards.
-- ARGV: prefix, min seq
local refs = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', NOW, 'LIMIT', 0, 1000)
for _, ref in ipairs(refs) do expire_hold(ref) end
local seq = tonumber(redis.call('GET', P .. 'seq') or '0')
if seq < tonumber(ARGV[2]) then
  seq = tonumber(ARGV[2])
  redis.call('SET', P .. 'seq', seq)
end
local holds = {}
local live = redis.call('ZRANGE', P .. 'due', 0, -1)
for _, ref in ipairs(redis.call('ZRANGE', P .. 'frozen', 0, -1)) do live[#live + 1] = ref end
for _, ref in ipairs(live) do
  local h = redis.call('HMGET', P .. 'hold:' .. ref, 'buyer', 'seats', 'exp')
  if h[1] and h[1] ~= '' then -- not a walk-up sale in progress (invisible)
    holds[#holds + 1] = {ref = ref, buyer = h[1], seats = split(h[2]), expires_at = tonumber(h[3])}
  end
end
local booked = redis.call('HKEYS', P .. 'booked')
local snap = cjson.encode({seq = seq, holds = holds, booked = booked})
return result('ok', snap)

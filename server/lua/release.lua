-- release: takes seats out of a buyer's hold, all or nothing.
-- ARGV: prefix, buyer id, seat ids...
local buyer = ARGV[2]
local bk = P .. 'buyer:' .. buyer
local ref = redis.call('GET', bk)
if not ref then return result('not_held') end
local hk = P .. 'hold:' .. ref
local h = redis.call('HMGET', hk, 'seats', 'exp', 'frozen', 'ip')
if not h[1] then
  redis.call('DEL', bk)
  return result('not_held')
end
if h[3] ~= '0' then return result('hold_locked') end
if tonumber(h[2]) <= NOW then
  expire_hold(ref)
  return result('not_held')
end
local seats, mine, drop, bad = split(h[1]), {}, {}, {}
for _, s in ipairs(seats) do mine[s] = true end
for i = 3, #ARGV do
  if mine[ARGV[i]] then drop[ARGV[i]] = true else bad[#bad + 1] = ARGV[i] end
end
if #bad > 0 then return result('not_held', cjson.encode(bad)) end
local ch, keep, gone = {}, {}, {}
for _, s in ipairs(seats) do
  if drop[s] then
    gone[#gone + 1] = s
    local k = P .. 'seat:' .. s
    local v = redis.call('GET', k)
    if v == 'h:' .. ref then redis.call('DEL', k) end
    if v == 'h:' .. ref or not v then ch[#ch + 1] = {s, 'e'} end
  else
    keep[#keep + 1] = s
  end
end
ip_uncount(h[4], #gone)
local hold = false
if #keep == 0 then
  redis.call('DEL', hk, bk)
  redis.call('ZREM', P .. 'due', ref)
else
  redis.call('HSET', hk, 'seats', table.concat(keep, ' '))
  hold = hold_obj(ref, keep, tonumber(h[2]))
end
publish('release', buyer, ref, ch, hold, nil,
        {'hold.released', hold_data(ref, gone, tonumber(h[2]), {{'remaining', jarr(keep)}})})
return result('ok', hold and cjson.encode(hold) or 'null')

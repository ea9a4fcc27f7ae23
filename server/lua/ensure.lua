-- ensure: makes Redis's booked seats of a show exactly SQLite's active
-- bookings (after Redis lost data, or a crash between the SQLite commit and
-- book.lua). A booking wins over a hold that took its seat meanwhile.
-- ARGV: prefix, then seat, booking id pairs
local want = {}
for i = 2, #ARGV - 1, 2 do want[ARGV[i]] = ARGV[i + 1] end
local ch = {}
local have = redis.call('HGETALL', P .. 'booked')
for i = 1, #have, 2 do
  local s, id = have[i], have[i + 1]
  if want[s] ~= id then
    local k = P .. 'seat:' .. s
    if redis.call('GET', k) == 'b:' .. id then redis.call('DEL', k) end
    redis.call('HDEL', P .. 'booked', s)
    if not want[s] then ch[#ch + 1] = {s, 'e'} end
  end
end
for s, id in pairs(want) do
  local k = P .. 'seat:' .. s
  local v = redis.call('GET', k)
  if v ~= 'b:' .. id or redis.call('HGET', P .. 'booked', s) ~= id then
    if v and string.sub(v, 1, 2) == 'h:' then
      local hk = P .. 'hold:' .. string.sub(v, 3)
      local keep = {}
      for _, x in ipairs(split(redis.call('HGET', hk, 'seats'))) do
        if x ~= s then keep[#keep + 1] = x end
      end
      if redis.call('EXISTS', hk) == 1 then redis.call('HSET', hk, 'seats', table.concat(keep, ' ')) end
    end
    redis.call('SET', k, 'b:' .. id)
    redis.call('HSET', P .. 'booked', s, id)
    ch[#ch + 1] = {s, 'b'}
  end
end
if #ch > 0 then publish('sync', '', '', ch, false) end
return result('ok')

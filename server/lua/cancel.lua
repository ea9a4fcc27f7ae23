-- cancel: after SQLite cancelled a booking, its seats become empty.
-- ARGV: prefix, booking id, seat ids...
local id = ARGV[2]
local ch = {}
for i = 3, #ARGV do
  local s = ARGV[i]
  local k = P .. 'seat:' .. s
  if redis.call('GET', k) == 'b:' .. id then redis.call('DEL', k) end
  if redis.call('HGET', P .. 'booked', s) == id then
    redis.call('HDEL', P .. 'booked', s)
    ch[#ch + 1] = {s, 'e'}
  end
end
if #ch > 0 then publish('cancel', '', '', ch, false, tonumber(id)) end
return result('ok')

-- cancel: after SQLite cancelled a booking, its seats become empty.
-- ARGV: prefix, booking id, the booking as the HTTP API shows it (JSON, or
--       '' for a minimal one), seat ids...
local id = ARGV[2]
local ch, seats = {}, {}
for i = 4, #ARGV do
  seats[#seats + 1] = ARGV[i]
end
for i = 4, #ARGV do
  local s = ARGV[i]
  local k = P .. 'seat:' .. s
  if redis.call('GET', k) == 'b:' .. id then redis.call('DEL', k) end
  if redis.call('HGET', P .. 'booked', s) == id then
    redis.call('HDEL', P .. 'booked', s)
    ch[#ch + 1] = {s, 'e'}
  end
end
local data = ARGV[3]
if data == '' then
  data = '{"id":' .. id .. ',"show":' .. cjson.encode(SHOW) .. ',"seats":' .. jarr(seats) ..
         ',"status":"cancelled"}'
end
-- The cancellation happened in SQLite: its event goes out even when Redis
-- had already lost these seats (then no seat changes).
publish('cancel', '', '', ch, false, tonumber(id), {'booking.cancelled', data})
return result('ok')

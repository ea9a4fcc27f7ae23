-- ensure: makes Redis's booked seats of a show exactly SQLite's active
-- bookings (after Redis lost data, or a booking or cancellation whose Redis
-- step failed). A booking wins over a hold that took its seat meanwhile.
-- Bookings newer than the watermark were made after the caller read SQLite
-- and are left alone.
-- ARGV: prefix, watermark (newest booking id the read could see), then
--       seat, booking id pairs
local watermark = tonumber(ARGV[2])
local want = {}
for i = 3, #ARGV - 1, 2 do want[ARGV[i]] = ARGV[i + 1] end
local ch = {}
local have = redis.call('HGETALL', P .. 'booked')
for i = 1, #have, 2 do
  local s, id = have[i], have[i + 1]
  if want[s] ~= id and tonumber(id) <= watermark then
    local k = P .. 'seat:' .. s
    if redis.call('GET', k) == 'b:' .. id then redis.call('DEL', k) end
    redis.call('HDEL', P .. 'booked', s)
    if not want[s] then ch[#ch + 1] = {s, 'e'} end
  end
end
for s, id in pairs(want) do
  if redis.call('GET', P .. 'seat:' .. s) ~= 'b:' .. id or
     redis.call('HGET', P .. 'booked', s) ~= id then
    book_seat(s, id, nil)
    ch[#ch + 1] = {s, 'b'}
  end
end
if #ch > 0 then publish('sync', '', '', ch, false) end
return result('ok')

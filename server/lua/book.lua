-- book: last step of a confirmation or sale, after SQLite committed the
-- booking. Every seat of the (frozen) hold becomes booked.
-- ARGV: prefix, ref, booking id, the booking as the HTTP API shows it (JSON;
--       optional: without it the event carries id, show, seats and hold)
local ref, id = ARGV[2], ARGV[3]
local hk = P .. 'hold:' .. ref
local h = redis.call('HMGET', hk, 'buyer', 'seats', 'ip')
if not h[1] then return result('gone') end
ip_uncount(h[3], #split(h[2]))
local ch = {}
for _, s in ipairs(split(h[2])) do
  book_seat(s, id, ref)
  ch[#ch + 1] = {s, 'b'}
end
redis.call('DEL', hk)
if h[1] ~= '' and redis.call('GET', P .. 'buyer:' .. h[1]) == ref then
  redis.call('DEL', P .. 'buyer:' .. h[1])
end
redis.call('ZREM', P .. 'due', ref)
redis.call('ZREM', P .. 'frozen', ref)
local seats = split(h[2])
local data = ARGV[4]
if not data or data == '' then
  data = '{"id":' .. id .. ',"show":' .. cjson.encode(SHOW) .. ',"seats":' .. jarr(seats) ..
         ',"hold":' .. (h[1] ~= '' and cjson.encode(ref) or 'null') .. ',"status":"active"}'
end
publish('book', h[1], ref, ch, false, tonumber(id), {'booking.created', data})
return result('ok')

-- reserve: first step of a walk-up sale. Empty seats are locked under a
-- frozen hold of no buyer, all or nothing, until book.lua books them. No seat
-- changes for watchers and no seq: the sale is one operation, published by
-- book.lua (e -> b). If the sale is abandoned, thaw.lua releases the lock.
-- ARGV: prefix, instance (the server doing it: host:port), 3 candidate refs, seat ids...
local bad = {}
for i = 6, #ARGV do
  if redis.call('EXISTS', P .. 'seat:' .. ARGV[i]) == 1 then bad[#bad + 1] = ARGV[i] end
end
if #bad > 0 then return result('seat_unavailable', cjson.encode(bad)) end
local ref
for i = 3, 5 do
  if redis.call('EXISTS', P .. 'hold:' .. ARGV[i]) == 0 then ref = ARGV[i] break end
end
if not ref then return result('retry') end
local seats = {}
for i = 6, #ARGV do
  redis.call('SET', P .. 'seat:' .. ARGV[i], 'h:' .. ref)
  seats[#seats + 1] = ARGV[i]
end
redis.call('HSET', P .. 'hold:' .. ref, 'buyer', '', 'seats', table.concat(seats, ' '),
           'exp', 0, 'frozen', NOW, 'by', ARGV[2])
redis.call('ZADD', P .. 'frozen', NOW, ref)
return result('ok', cjson.encode({ref = ref, seats = seats, frozen = NOW}))

-- freeze: first step of confirming a payment. The hold stops expiring (its
-- seat keys lose their TTL, it leaves 'due') so it cannot expire while the
-- booking is committed to SQLite. No seat changes state, so no seq.
-- ARGV: prefix, ref, instance (the server doing it: host:port)
local ref = ARGV[2]
local hk = P .. 'hold:' .. ref
local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp', 'frozen')
if not h[1] or h[1] == '' then return result('hold_expired') end
if h[4] ~= '0' then return result('hold_locked') end
if tonumber(h[3]) <= NOW then
  expire_hold(ref)
  return result('hold_expired')
end
local seats = split(h[2])
for _, s in ipairs(seats) do redis.call('PERSIST', P .. 'seat:' .. s) end
redis.call('HSET', hk, 'frozen', NOW, 'by', ARGV[3])
redis.call('ZREM', P .. 'due', ref)
redis.call('ZADD', P .. 'frozen', NOW, ref)
return result('ok', cjson.encode({ref = ref, buyer = h[1], seats = seats, expires_at = tonumber(h[3]),
                                  frozen = NOW}))

-- thaw: a hold frozen for longer than the bound whose booking never reached
-- SQLite (its confirming process died). It goes back to expiring, or expires
-- now if its deadline has passed (always, for a walk-up reservation).
-- ARGV: prefix, ref, bound ms
local ref = ARGV[2]
local hk = P .. 'hold:' .. ref
local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp', 'frozen')
if not h[1] or h[4] == '0' or NOW - tonumber(h[4]) < tonumber(ARGV[3]) then
  redis.call('ZREM', P .. 'frozen', ref)
  return result('ok')
end
if h[1] == '' then
  -- an abandoned walk-up sale: its seats never showed as taken, so they are
  -- unlocked without an operation
  for _, s in ipairs(split(h[2])) do
    local k = P .. 'seat:' .. s
    if redis.call('GET', k) == 'h:' .. ref then redis.call('DEL', k) end
  end
  redis.call('DEL', hk)
  redis.call('ZREM', P .. 'frozen', ref)
  return result('released')
end
local exp = tonumber(h[3])
if exp > NOW then
  for _, s in ipairs(split(h[2])) do
    local k = P .. 'seat:' .. s
    if redis.call('GET', k) == 'h:' .. ref then redis.call('PEXPIREAT', k, exp) end
  end
  redis.call('HSET', hk, 'frozen', '0')
  redis.call('ZADD', P .. 'due', exp, ref)
  redis.call('ZREM', P .. 'frozen', ref)
  return result('thawed')
end
expire_hold(ref)
return result('expired')

-- thaw: a frozen hold whose booking never reached SQLite (its confirmation
-- failed, or its process died). It goes back to expiring, or expires now if
-- its deadline has passed; a walk-up reservation is unlocked. Nothing happens
-- unless the hold is still frozen at the time the caller saw (no newer
-- confirmation froze it meanwhile).
-- ARGV: prefix, ref, frozen time the caller saw
local ref = ARGV[2]
local hk = P .. 'hold:' .. ref
local h = redis.call('HMGET', hk, 'buyer', 'seats', 'exp', 'frozen')
if not h[1] or h[4] ~= ARGV[3] then
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

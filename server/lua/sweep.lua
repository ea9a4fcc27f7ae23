-- sweep: expires every hold whose deadline has passed (at most ARGV[2] per
-- call: status 'more' asks for another call) and lists holds frozen for
-- longer than ARGV[3] ms, which the caller reconciles against SQLite.
-- ARGV: prefix, limit, frozen bound ms
local limit = tonumber(ARGV[2])
local refs = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', NOW, 'LIMIT', 0, limit)
for _, ref in ipairs(refs) do expire_hold(ref) end
local stale = redis.call('ZRANGEBYSCORE', P .. 'frozen', '-inf', NOW - tonumber(ARGV[3]), 'LIMIT', 0, 100)
return result(#refs == limit and 'more' or 'ok', table.concat(stale, ' '))

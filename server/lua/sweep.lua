-- sweep: expires every hold whose deadline has passed (at most ARGV[2] per
-- call: status 'more' asks for another call) and lists the frozen holds whose
-- confirmation looks abandoned, as "ref@frozen" words, for the caller to
-- reconcile against SQLite: frozen longer than the bound, or frozen by this
-- very server instance before it started (it crashed mid-confirmation and
-- came back, so nothing of its own is in flight).
-- ARGV: prefix, limit, frozen bound ms, instance, instance start (unix ms)
local limit = tonumber(ARGV[2])
local refs = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', NOW, 'LIMIT', 0, limit)
for _, ref in ipairs(refs) do expire_hold(ref) end
local stale = {}
local frozen = redis.call('ZRANGE', P .. 'frozen', 0, 99, 'WITHSCORES')
for i = 1, #frozen, 2 do
  local ref, at = frozen[i], tonumber(frozen[i + 1])
  if NOW - at > tonumber(ARGV[3]) or
     (at < tonumber(ARGV[5]) and redis.call('HGET', P .. 'hold:' .. ref, 'by') == ARGV[4]) then
    stale[#stale + 1] = ref .. '@' .. frozen[i + 1]
  end
end
return result(#refs == limit and 'more' or 'ok', table.concat(stale, ' '))

-- sweep: expires every hold whose deadline has passed (at most ARGV[2] per
-- call: status 'more' asks for another call) and lists the frozen holds whose
-- confirmation looks abandoned, as "ref@frozen" words, for the caller to
-- reconcile against SQLite: frozen longer than the bound, or frozen by this
-- very server instance before it started (it crashed mid-confirmation and
-- came back, so nothing of its own is in flight), or named by this instance
-- as in doubt (its freeze's answer was lost and no confirmation of it is in
-- flight there: show_confirm_end).
-- ARGV: prefix, limit, frozen bound ms, instance, instance start (unix ms),
--       refs in doubt...
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
for i = 6, #ARGV do
  local ref = ARGV[i]
  local at = redis.call('ZSCORE', P .. 'frozen', ref)
  if at and redis.call('HGET', P .. 'hold:' .. ref, 'by') == ARGV[4] then
    local word = ref .. '@' .. at
    local seen = false
    for _, w in ipairs(stale) do if w == word then seen = true end end
    if not seen then stale[#stale + 1] = word end
  end
end
return result(#refs == limit and 'more' or 'ok', table.concat(stale, ' '))

-- history: which seats each recent operation of a show touched, read from
-- the show's events stream, so a process that is new (restarted, or one of
-- a cluster that was not running then) can answer a watch with `since`
-- from before its start with one delta instead of a snapshot (show.c).
-- Read only. Every operation that bumps seq writes at most one event, in
-- the same script (lib.lua publish); one that writes none leaves a gap the
-- caller sees, and it then falls back to a snapshot for that range.
-- ARGV: prefix, upto (the newest seq wanted), floor (stop at or below it),
--       max (stream entries read at most, newest first)
-- Answers detail = JSON array, newest first, of [seq, "seat seat ..."],
-- or [seq, false] for an event whose seats cannot be read.
local upto, floor, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for _, e in ipairs(redis.call('XREVRANGE', P .. 'events', '+', '-', 'COUNT', max)) do
  local f, text = e[2], nil
  for i = 1, #f - 1, 2 do
    if f[i] == 'event' then text = f[i + 1] end
  end
  local ok, ev = pcall(cjson.decode, text or '')
  local seq = ok and type(ev) == 'table' and tonumber(ev.seq) or nil
  if not seq then
    out[#out + 1] = '[-1,false]' -- unreadable: the caller stops here
    break
  end
  if seq <= floor then break end
  if seq <= upto then
    local seats = type(ev.data) == 'table' and ev.data.seats or nil
    if type(seats) == 'table' then
      local names = {}
      for _, s in ipairs(seats) do names[#names + 1] = tostring(s) end
      out[#out + 1] = '[' .. string.format('%d', seq) .. ',' .. cjson.encode(table.concat(names, ' ')) .. ']'
    else
      out[#out + 1] = '[' .. string.format('%d', seq) .. ',false]'
    end
  end
end
return result('ok', '[' .. table.concat(out, ',') .. ']')

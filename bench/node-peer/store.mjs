/*
 * store.mjs - the Node peer's holds in Redis: one Lua script per state
 * change (hold, release, expire), so check and change are atomic and two
 * buyers can never hold one seat, and one script that reads a show's seat
 * states with its seq in one go.
 *
 * Keys are seatmapd's (docs/protocol.md, "Redis data"): sm:{S}:seat:<seat>
 * = "h:<ref>" with the hold's deadline as its TTL, sm:{S}:hold:<ref> (buyer,
 * space-separated seats, exp), sm:{S}:buyer:<buyer id>, sm:{S}:due, sm:{S}:seq,
 * so that seatmap-bench's double-hold audit (bench/rcheck.c) reads them. It is
 * not meant to share a Redis with seatmapd: its change messages go to its own
 * channel, nodepeer:{S}:ev, as JSON {seq, seats: [[id, state]...], buyer,
 * hold, reason}. Every script first expires the holds that are due (their
 * seat keys may already be gone by their TTL), so a seat is taken only from
 * an expired hold that has been announced.
 */
import { createHash } from 'node:crypto';

const LIB = `
local p, chan = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function hold_seats(ref)
  local s = redis.call('HGET', p .. 'hold:' .. ref, 'seats')
  local out = {}
  if s then for id in string.gmatch(s, '%S+') do out[#out + 1] = id end end
  return out
end
local function publish(changes, buyer, hold, reason)
  local seq = redis.call('INCR', p .. 'seq')
  redis.call('PUBLISH', chan, cjson.encode({seq = seq, seats = changes, buyer = buyer,
    hold = hold or false, reason = reason}))
  return seq
end
local function expire_due()
  local refs = redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', now, 'LIMIT', 0, 500)
  for _, ref in ipairs(refs) do
    local buyer = redis.call('HGET', p .. 'hold:' .. ref, 'buyer')
    local changes = {}
    for _, id in ipairs(hold_seats(ref)) do
      local v = redis.call('GET', p .. 'seat:' .. id)
      if v == false or v == 'h:' .. ref then
        if v then redis.call('DEL', p .. 'seat:' .. id) end
        changes[#changes + 1] = {id, 'e'}
      end
    end
    redis.call('DEL', p .. 'hold:' .. ref)
    redis.call('ZREM', p .. 'due', ref)
    if buyer and redis.call('GET', p .. 'buyer:' .. buyer) == ref then
      redis.call('DEL', p .. 'buyer:' .. buyer)
    end
    if #changes > 0 then publish(changes, buyer or '', nil, 'expired') end
  end
  return #refs
end
`;

/* ARGV: prefix, channel, buyer id, ttl ms, max seats, new ref, seats... */
const HOLD = `${LIB}
expire_due()
local buyer, ttl, max, newref = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local ref = redis.call('GET', p .. 'buyer:' .. buyer)
local cur, have, exp = {}, {}, nil
if ref then
  cur = hold_seats(ref)
  if #cur == 0 then ref = false else exp = tonumber(redis.call('HGET', p .. 'hold:' .. ref, 'exp')) end
end
for _, id in ipairs(cur) do have[id] = true end
local add, bad, seen = {}, {}, {}
for i = 7, #ARGV do
  local id = ARGV[i]
  if not have[id] and not seen[id] then
    seen[id] = true
    if redis.call('EXISTS', p .. 'seat:' .. id) == 1 then bad[#bad + 1] = id else add[#add + 1] = id end
  end
end
if #bad > 0 then return cjson.encode({err = 'seat_unavailable', seats = bad}) end
if #cur + #add > max then return cjson.encode({err = 'hold_limit'}) end
if #add == 0 then return cjson.encode({hold = {ref = ref, seats = cur, expires_at = exp}}) end
if not ref then
  if redis.call('EXISTS', p .. 'hold:' .. newref) == 1 then return cjson.encode({err = 'retry'}) end
  ref, exp = newref, now + ttl
  redis.call('ZADD', p .. 'due', exp, ref)
  redis.call('SET', p .. 'buyer:' .. buyer, ref, 'PXAT', exp + 60000)
end
local changes = {}
for _, id in ipairs(add) do
  redis.call('SET', p .. 'seat:' .. id, 'h:' .. ref, 'PXAT', exp)
  cur[#cur + 1] = id
  changes[#changes + 1] = {id, 'p'}
end
redis.call('HSET', p .. 'hold:' .. ref, 'buyer', buyer, 'seats', table.concat(cur, ' '), 'exp', exp)
redis.call('PEXPIREAT', p .. 'hold:' .. ref, exp + 60000)
local hold = {ref = ref, seats = cur, expires_at = exp}
publish(changes, buyer, hold, 'held')
return cjson.encode({hold = hold})
`;

/* ARGV: prefix, channel, buyer id, seats... */
const RELEASE = `${LIB}
expire_due()
local buyer = ARGV[3]
local ref = redis.call('GET', p .. 'buyer:' .. buyer)
local cur = ref and hold_seats(ref) or {}
if #cur == 0 then return cjson.encode({err = 'not_held'}) end
local have, gone, bad, seen = {}, {}, {}, {}
for _, id in ipairs(cur) do have[id] = true end
for i = 4, #ARGV do
  local id = ARGV[i]
  if not seen[id] then
    seen[id] = true
    if have[id] then gone[id] = true else bad[#bad + 1] = id end
  end
end
if #bad > 0 then return cjson.encode({err = 'not_held', seats = bad}) end
local rest, changes = {}, {}
for _, id in ipairs(cur) do
  if gone[id] then
    if redis.call('GET', p .. 'seat:' .. id) == 'h:' .. ref then redis.call('DEL', p .. 'seat:' .. id) end
    changes[#changes + 1] = {id, 'e'}
  else
    rest[#rest + 1] = id
  end
end
local hold = false
if #rest == 0 then
  redis.call('DEL', p .. 'hold:' .. ref, p .. 'buyer:' .. buyer)
  redis.call('ZREM', p .. 'due', ref)
else
  redis.call('HSET', p .. 'hold:' .. ref, 'seats', table.concat(rest, ' '))
  hold = {ref = ref, seats = rest, expires_at = tonumber(redis.call('HGET', p .. 'hold:' .. ref, 'exp'))}
end
publish(changes, buyer, hold, 'released')
return cjson.encode({hold = hold})
`;

/* ARGV: prefix, channel */
const SWEEP = `${LIB}
return expire_due()
`;

/* ARGV: prefix, channel, seats... -> {seq, letters} read in one go */
const LOAD = `${LIB}
local seq = tonumber(redis.call('GET', p .. 'seq') or '0')
local out, keys = {}, {}
local function flush()
  if #keys == 0 then return end
  for _, v in ipairs(redis.call('MGET', unpack(keys))) do
    if v == false then out[#out + 1] = 'e'
    elseif string.sub(v, 1, 2) == 'b:' then out[#out + 1] = 'b'
    else out[#out + 1] = 'p' end
  end
  keys = {}
end
for i = 3, #ARGV do
  keys[#keys + 1] = p .. 'seat:' .. ARGV[i]
  if #keys == 4000 then flush() end
end
flush()
return {seq, table.concat(out)}
`;

const sha1 = (s) => createHash('sha1').update(s).digest('hex');
const SCRIPTS = { hold: HOLD, release: RELEASE, sweep: SWEEP, load: LOAD };

export const keyPrefix = (show) => `sm:{${show}}:`;
export const channel = (show) => `nodepeer:{${show}}:ev`;

/* Runs a script by its digest, sending its text once when Redis does not
 * know it (first use, or a restarted Redis). */
export async function runScript(redis, name, show, args) {
    const text = SCRIPTS[name];
    const argv = [keyPrefix(show), channel(show), ...args.map(String)];
    try {
        return await redis.sendCommand(['EVALSHA', sha1(text), '0', ...argv]);
    } catch (e) {
        if (!String(e.message).startsWith('NOSCRIPT')) throw e;
        return redis.sendCommand(['EVAL', text, '0', ...argv]);
    }
}

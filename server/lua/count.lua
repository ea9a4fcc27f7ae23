-- count: how many seats Redis holds as booked, for the periodic comparison
-- with SQLite (a difference triggers ensure.lua).
-- ARGV: prefix
return result('ok', tostring(redis.call('HLEN', P .. 'booked')))

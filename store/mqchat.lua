#!lua name=mqchat_v2
--[[
mqchat's Redis functions (Redis 7 FUNCTION library, loaded on every connect
by store/lib.c, which also deletes the older library "mqchat_v1" in the same
MULTI; functions persist in the AOF). Each function does one chat operation
atomically: membership check, sequence number, dedupe, store, cursor. Bodies
arrive as ready-made JSON fragments from the plugin and are stored verbatim,
once per message.

Lazy fan-out (issue #15, docs/ARCHITECTURE.md): the message path (send)
touches the conversation's slot only and does O(1) work whatever the group
size: nothing per recipient. Per-recipient work is read at sync time from
the conversation logs (sync_user + sync_conv) or done later by mqchat-push
from the job stream of the conversation's slot.

Key schema (see store/keys.h), P = prefix, C = conversation, U = user:
  P{c:C}:meta     HASH  kind, title, created, creator, seq (last), mver (membership version),
                        mc (msg events so far), lt (ms of the last event),
                        b:<user> (direct only: the other member blocks <user>)
  P{c:C}:members  HASH  user -> "admin" | "member"
  P{c:C}:log      STREAM  id "<seq>-0": e = the event JSON (first), t = ms (Redis TIME,
                        non-decreasing per conversation), k = dedupe key (msgs),
                        m = mc after this event (absent in v1 entries: m = seq)
  P{c:C}:ids      HASH  "<sender>\n<client id>" -> seq (send dedupe)
  P{c:C}:tomb     HASH  seq -> log entries moved out of the log by a delete,
                        e:<seq> edit index, lo (relations, below)
  P{c:C}:rcpt     HASH  d:<user> / r:<user> delivered / read cursor; j:<user> seq of the
                        event that made user a member (absent: from the start);
                        x:<user> seq of the event that removed user;
                        jm = the seq of the last add (the highest j: ever written; 0:
                        no late joiner; absent: unknown, a store of before the mark)
  P{<slot tag>}:jobs STREAM  one job per stored msg/member event of the slot's
                        conversations: c, s, m, k (msg|member), f, ts, p (preview), u,
                        v (mver), a (users in)
  P{u:U}:user     HASH  pw, created, via (jwt), ix (1 while the P users entry may be missing)
  P{u:U}:convs    SET   conversation ids
  P{u:U}:gone     ZSET  conversation -> ms the user stopped being a member
  P{u:U}:cver     HASH  conversation -> membership version of the user's last index
                        step (user_conv)
  P{u:U}:unread   HASH  c:<conv>, r:<conv>, total (written by mqchat-push / mqc2_unread)
  P{u:U}:presence HASH  state, last_seen, node, devices
  P{u:U}:devices  HASH  push token -> "platform\napp\nsandbox(0/1)"
  P{u:U}:mute     HASH  conv -> muted until (ms)
  P{u:U}:unread   HASH  c:<conv> / r:<conv> = msg count counted / read, total (badge)
  P{u:U}:blocked  SET   users U blocks
  P{u:U}:sess     HASH  device session id -> record (device sessions, at the end)
  Pdevtoken:T     STRING  owner of push token T
  P{n:N}:users    SET   users this broker node has published as present
  Pversion        STRING  "2" once the store has this layout (mqchat store upgrade)
  Pusers          SET   every user (an entry may outlive its record: readers skip those)

Replies are flat arrays whose first element is a status string: "ok",
"dup", "ignored", "noop", or an error code of the wire contract
("not_member", "forbidden", "not_found", "exists").
]]

local function num(v)
  return tonumber(v) or 0
end

-- An integer as a decimal string. Every Lua number handed to redis.call is
-- formatted by Redis with snprintf("%.17g") and tostring() uses "%.14g"
-- (floating-point formatting: ~1,800 instructions each, measured with
-- callgrind); integer formatting costs a fraction of that.
local function int(n)
  return string.format('%d', n)
end

-- Members (flattened user, role pairs) appended to out when the caller's
-- cached membership version differs from the stored one.
local function add_members(out, members_key, mver, cached)
  if (type(mver) == 'string' and mver or tostring(mver)) ~= cached then
    local all = redis.call('HGETALL', members_key)
    out[#out + 1] = #all / 2
    for i = 1, #all do out[#out + 1] = all[i] end
  else
    out[#out + 1] = -1
  end
  return out
end

local function json_users(users)
  return '["' .. table.concat(users, '","') .. '"]'
end

local function member_event(conv, seq, op, users, by, ts)
  return '{"t":"member","conv":"' .. conv .. '","seq":' .. seq .. ',"op":"' .. op ..
         '","users":' .. json_users(users) .. ',"by":"' .. by .. '","ts":' .. ts .. '}'
end

-- Redis' clock in ms, never before lt: a conversation's event times never
-- go back (sync positions rely on it).
local function clock(lt)
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if ms < lt then ms = lt end
  return ms
end

local function field(f, name)
  for i = 1, #f, 2 do
    if f[i] == name then return f[i + 1] end
  end
  return nil
end

-- The event JSON of a conversation log entry (XRANGE item {id, fields}).
-- Entries are written with e first; older layouts put other fields first,
-- so anything else is looked up by name. Every reader of the log (send's
-- dedupe, history, sync) goes through here. nil if the entry has no event.
local function log_event(entry)
  local f = entry[2]
  if f[1] == 'e' then return f[2] end
  return field(f, 'e')
end

-- The seq of a log entry (ids are "<seq>-0").
local function entry_seq(entry)
  return tonumber(string.sub(entry[1], 1, -3)) or 0
end

-- The time (ms) of a log entry: written second (e, t, ...), else by name.
local function entry_t(entry)
  local f = entry[2]
  if f[3] == 't' then return tonumber(f[4]) or 0 end
  return num(field(f, 't'))
end

-- The message count after a log entry; v1 entries have none (m = seq: the
-- upgrade set mc = seq).
local function entry_m(entry)
  local f = entry[2]
  local m
  if f[7] == 'm' then m = f[8] elseif f[5] == 'm' then m = f[6] else m = field(f, 'm') end
  return tonumber(m) or entry_seq(entry)
end

-- Jobs are only needed while mqchat-push runs or restarts: the stream is
-- capped at about JOBS_MAX entries on every write, and entries older than
-- JOBS_AGE_MS are dropped every 64th event of a conversation (with the
-- log's retention trim: measured, every 8th cost ~4 us per message).
local JOBS_MAX = 20000
local JOBS_MAX_S = '20000' -- as a string: no number formatting per call
local JOBS_AGE_MS = 3600000

-- Append job (flat field/value list; numbers are formatted here, as
-- integers: see int()) to the slot's job stream.
local function add_job(jobs_key, job, seq, t)
  for i = 2, #job, 2 do
    if type(job[i]) == 'number' then job[i] = int(job[i]) end
  end
  redis.call('XADD', jobs_key, 'MAXLEN', '~', JOBS_MAX_S, '*', unpack(job))
  if seq % 64 == 0 then
    redis.call('XTRIM', jobs_key, 'MINID', '~', int(t - JOBS_AGE_MS) .. '-0')
  end
end

--[[ Message relations (issue #18; PROTOCOL.md "Message relations"): replies,
edits, deletes and reactions. Each is an event of the conversation log with
its own seq, t and m (mc unchanged: only msg events count), deduplicated
like messages, and with NO job: relations never count as unread and never
push. One more key of the conversation's slot:
  P{c:C}:tomb  HASH  seq -> "<t>\t<m>\t<x|k>\t<klen>\t<k><event JSON>": log
                     entries moved out of the log by a delete (x: erased,
                     the event without body and attrs, with "deleted":true;
                     k: kept whole); older tombstones are "<t>\t<event>";
                     e:<seq> = the seqs of msg seq's edits ("a,b,..");
                     lo = no entry below this seq (the retention trim's
                     start)
Erasure: XDEL only flags a stream entry (its bytes stay in the listpack node
until every entry of the node is deleted), so a delete moves the whole node
of the target, and of each of its edits (found through e:<target>), out of
the log into tomb: the entries within RELATE_WINDOW seqs either side of
each (a node holds at most stream-node-max-entries = 100 entries, Redis'
default, and every seq is XADDed once, in order), with
the erased ones as tombstones, then XDELs them (which frees the nodes).
O(edits x window), whatever the log holds after the target. Every reader
of a log entry looks in tomb where the log comes back short.
]]

-- Seqs either side of an erased entry moved with it: Redis'
-- stream-node-max-entries (default 100); raising that setting above it
-- leaves erased bytes in the log's node (docs/ARCHITECTURE.md).
local RELATE_WINDOW = 100

local function is_msg(text)
  return text ~= nil and string.sub(text, 1, 10) == '{"t":"msg"'
end

-- A tomb value as a log entry {"<seq>-0", {e, json, t, t[, k, k], m, m}}
-- (what every entry_* helper reads), and whether it is erased.
local function tomb_entry(seq, v)
  local a = string.find(v, '\t', 1, true)
  if not a then return {seq .. '-0', {'e', v, 't', '0'}}, true end
  local t = string.sub(v, 1, a - 1)
  if string.sub(v, a + 1, a + 1) == '{' then -- "<t>\t<event>": erased, no m
    return {seq .. '-0', {'e', string.sub(v, a + 1), 't', t}}, true
  end
  local m, flag, klen, rest = string.match(v, '^(%d+)\t(%a)\t(%d+)\t()', a + 1)
  if not m then return {seq .. '-0', {'e', string.sub(v, a + 1), 't', t}}, true end
  local kend = rest + tonumber(klen) - 1
  local e = string.sub(v, kend + 1)
  if kend >= rest then
    return {seq .. '-0', {'e', e, 't', t, 'k', string.sub(v, rest, kend), 'm', m}}, flag == 'x'
  end
  return {seq .. '-0', {'e', e, 't', t, 'm', m}}, flag == 'x'
end

-- "<t>\t<json>" of a tombstone: t, json.
local function tomb_split(v)
  local e = tomb_entry(0, v)
  return tonumber(e[2][4]) or 0, e[2][2]
end

-- Tombstones of the seqs strictly between lo and hi, at most n of them
-- from the hi end, highest first (history's order), or from the lo end,
-- lowest first, when asc (sync's): {seq, t, json, entry}. Only called
-- where the log came back short (a gap in its seqs), so a log without
-- erasures costs nothing here.
local function tombs_between(tomb_key, hi, lo, n, asc)
  local out = {}
  if not tomb_key or hi - lo <= 1 or n <= 0 then return out end
  local seqs = {}
  if asc then
    for s = lo + 1, math.min(hi - 1, lo + n) do seqs[#seqs + 1] = s end
  else
    for s = hi - 1, math.max(lo + 1, hi - n), -1 do seqs[#seqs + 1] = s end
  end
  local vals = redis.call('HMGET', tomb_key, unpack(seqs))
  for i = 1, #seqs do
    if vals[i] then
      local e = tomb_entry(seqs[i], vals[i])
      out[#out + 1] = {seqs[i], tonumber(e[2][4]) or 0, e[2][2], e}
    end
  end
  return out
end

-- The log entry of seq: from the log, else moved to tomb (nil for none),
-- and whether it is erased.
local function find_entry(log_key, tomb_key, seq)
  local e = redis.call('XRANGE', log_key, seq .. '-0', seq .. '-0')[1]
  if e or not tomb_key then return e, false end
  local v = redis.call('HGET', tomb_key, seq)
  if not v then return nil, false end
  return tomb_entry(seq, v)
end

-- The sender of a msg log entry: its dedupe key is "<sender>\n<id>".
local function entry_from(entry, text)
  local k = field(entry[2], 'k')
  if k then
    local i = string.find(k, '\n', 1, true)
    if i then return string.sub(k, 1, i - 1) end
  end
  local ok, ev = pcall(cjson.decode, text)
  return ok and type(ev) == 'table' and ev.from or nil
end

-- Whether seq is a msg event of the log (deleted or not): the reply_to
-- target check of send.
local function reply_target(log_key, tomb_key, seq)
  local e = find_entry(log_key, tomb_key, seq)
  return e ~= nil and is_msg(log_event(e))
end

local function jstr(s)
  return cjson.encode(tostring(s or ''))
end

local function jint(n)
  return string.format('%d', tonumber(n) or 0)
end

-- The tombstone of an erased msg or edit entry: its event without body and
-- attrs, "deleted":true; nil when the entry holds no readable event.
local function tombstone(entry)
  local ok, ev = pcall(cjson.decode, log_event(entry) or '')
  if not ok or type(ev) ~= 'table' then return nil end
  local head = '{"t":' .. jstr(ev.t) .. ',"conv":' .. jstr(ev.conv) .. ',"seq":' ..
               entry_seq(entry) .. ',"id":' .. jstr(ev.id) .. ',"from":' .. jstr(ev.from)
  if ev.t == 'msg' then
    local s = head .. ',"ts":' .. jint(ev.ts) .. ',"deleted":true'
    if type(ev.reply_to) == 'number' then s = s .. ',"reply_to":' .. jint(ev.reply_to) end
    return s .. '}'
  end
  return head .. ',"target":' .. jint(ev.target) .. ',"deleted":true,"ts":' .. jint(ev.ts) .. '}'
end

-- The tomb value of log entry e: erased (its tombstone) or kept whole.
local function tomb_value(e, erased)
  local k = field(e[2], 'k') or ''
  local text = erased and (tombstone(e) or '{}') or (log_event(e) or '{}')
  return entry_t(e) .. '\t' .. entry_m(e) .. '\t' .. (erased and 'x' or 'k') .. '\t' .. #k ..
         '\t' .. k .. text
end

-- The target of an edit event's text, or nil for any other event. The
-- first ',"target":' of the text is the field (after id and from, whose
-- quotes inside are escaped; body and attrs come after it).
local function edit_target(text)
  if not text or string.sub(text, 1, 11) ~= '{"t":"edit"' then return nil end
  return tonumber(string.match(text, ',"target":(%d+)'))
end

-- The tomb fields that go with log entry e when it leaves the store
-- (retention): its edit index if a msg, appended to fields.
local function index_fields(e, fields)
  local text = log_event(e)
  if is_msg(text) then fields[#fields + 1] = 'e:' .. entry_seq(e) end
end

-- Drop conversation log entries older than the retention window, a few per
-- call (amortised, never a long pause), with their dedupe keys and edit
-- indexes; then the entries moved to tomb below the log's first entry
-- (from its lo mark: at most 128 seqs a call).
local function trim_log(log_key, ids_key, tomb_key, now, retention)
  local cutoff = now - retention
  local first = redis.call('XRANGE', log_key, '-', '+', 'COUNT', 1)[1]
  if first and entry_t(first) < cutoff then
    local last, ks, idx = nil, {}, {}
    for _, e in ipairs(redis.call('XRANGE', log_key, '-', '+', 'COUNT', 64)) do
      local f = e[2]
      local t, k = nil, nil
      for i = 1, #f, 2 do
        if f[i] == 't' then t = tonumber(f[i + 1]) elseif f[i] == 'k' then k = f[i + 1] end
      end
      if not t or t >= cutoff then break end
      if k then ks[#ks + 1] = k end
      index_fields(e, idx)
      last = e[1]
    end
    if last then
      if #ks > 0 and ids_key then redis.call('HDEL', ids_key, unpack(ks)) end
      if #idx > 0 and tomb_key then redis.call('HDEL', tomb_key, unpack(idx)) end
      -- MINID keeps ids >= its argument: keep everything after "last".
      redis.call('XTRIM', log_key, 'MINID', (entry_seq({last}) + 1) .. '-0')
      first = redis.call('XRANGE', log_key, '-', '+', 'COUNT', 1)[1]
    end
  end
  if not tomb_key then return end
  local lo = tonumber(redis.call('HGET', tomb_key, 'lo'))
  if not lo then return end
  -- tomb entries above the log's first entry are newer than it (t never
  -- decreases with seq): they wait for the log's trim to pass them
  local hi = lo + 127
  if first and entry_seq(first) - 1 < hi then hi = entry_seq(first) - 1 end
  if hi < lo then return end
  local seqs = {}
  for s = lo, hi do seqs[#seqs + 1] = s end
  local vals = redis.call('HMGET', tomb_key, unpack(seqs))
  local drop, ks, next_lo = {}, {}, hi + 1
  for i = 1, #seqs do
    if vals[i] then
      local e = tomb_entry(seqs[i], vals[i])
      if entry_t(e) >= cutoff then
        next_lo = seqs[i]
        break
      end
      drop[#drop + 1] = seqs[i]
      index_fields(e, drop)
      local k = field(e[2], 'k')
      if k then ks[#ks + 1] = k end
    end
  end
  if #drop > 0 then redis.call('HDEL', tomb_key, unpack(drop)) end
  if #ks > 0 and ids_key then redis.call('HDEL', ids_key, unpack(ks)) end
  redis.call('HSET', tomb_key, 'lo', next_lo)
end

-- Move the log entries of the node that held seq x out of the log into
-- tomb: those with seqs in [x - RELATE_WINDOW, x + RELATE_WINDOW] above
-- floor (every seq is XADDed once, in order, so a node of at most
-- RELATE_WINDOW entries spans no more seqs than that), the seqs in erase
-- as tombstones, the others whole. x itself may have left the log before
-- (moved whole by an earlier delete): its node, if it still holds other
-- entries, still holds x's bytes and goes now. Returns the seqs moved
-- (moved[seq] = true) and the lowest (nil when none).
local function move_node(log_key, tomb_key, x, floor, erase, moved)
  local lo = math.max(x - RELATE_WINDOW, floor + 1)
  local got = redis.call('XRANGE', log_key, lo .. '-0', (x + RELATE_WINDOW) .. '-0')
  if #got == 0 then return nil end
  local ids, marks = {}, {}
  for _, e in ipairs(got) do
    local s = entry_seq(e)
    moved[s] = true
    ids[#ids + 1] = e[1]
    marks[#marks + 1] = s
    marks[#marks + 1] = tomb_value(e, erase[s])
  end
  redis.call('HSET', tomb_key, unpack(marks))
  redis.call('XDEL', log_key, unpack(ids))
  return entry_seq(got[1])
end

-- Erase msg entry target and its edits (KEYS as relate's): the nodes that
-- hold (or held) them leave the log for tomb (move_node); those already in
-- tomb become tombstones there. Cost: at most 2 x RELATE_WINDOW + 1
-- entries per erased entry (less where they are close together), whatever
-- the log holds after them.
local function erase(keys, target)
  local log_key, tomb_key = keys[3], keys[6]
  local xs, erase_set = {target}, {[target] = true}
  local list = redis.call('HGET', tomb_key, 'e:' .. target)
  if list then
    for s in string.gmatch(list, '%d+') do
      local n = tonumber(s)
      if not erase_set[n] then
        erase_set[n] = true
        xs[#xs + 1] = n
      end
    end
  end
  table.sort(xs)
  local covered, low, moved, fix = 0, nil, {}, {}
  for _, x in ipairs(xs) do
    if x + RELATE_WINDOW > covered then
      local first = move_node(log_key, tomb_key, x, covered, erase_set, moved)
      covered = x + RELATE_WINDOW
      if first and (not low or first < low) then low = first end
    end
    if not moved[x] then fix[#fix + 1] = x end -- in tomb already (or trimmed)
  end
  local marks = {}
  if #fix > 0 then
    local vals = redis.call('HMGET', tomb_key, unpack(fix))
    for i, x in ipairs(fix) do
      if vals[i] then
        local e, erased = tomb_entry(x, vals[i])
        if not erased then
          marks[#marks + 1] = x
          marks[#marks + 1] = tomb_value(e, true)
        end
      end
    end
  end
  if low then
    local lo = tonumber(redis.call('HGET', tomb_key, 'lo'))
    if not lo or low < lo then
      marks[#marks + 1] = 'lo'
      marks[#marks + 1] = low
    end
  end
  for i = 1, #marks, 1000 do -- (a message edited thousands of times)
    redis.call('HSET', tomb_key, unpack(marks, i, math.min(i + 999, #marks)))
  end
  if list then redis.call('HDEL', tomb_key, 'e:' .. target) end
end

-- relate: edit, delete or react.
-- KEYS meta, members, log, ids, rcpt, tomb (all in the conversation's slot)
-- ARGV sender, client id, kind ("edit"|"delete"|"react"), target seq, event
--      prefix (ends with "seq":), event suffix, cached mver, retention ms
-- Reply: ok, seq, mver, members (add_members); or dup, seq, event (the
-- tombstone when it was erased since), mver, members; or not_member;
-- forbidden, why ("blocked" | "not_sender"); not_found (the target is no
-- msg of the log, or is deleted).
-- Stored like a msg (seq, t, dedupe, the sender's cursors, the log's
-- retention trim) but mc stays and no job is written: relations are never
-- unread and never pushed.
local function relate(keys, args)
  local sender, kind, target = args[1], args[3], num(args[4])
  local role = redis.call('HGET', keys[2], sender)
  if not role then return {'not_member'} end
  local meta = redis.call('HMGET', keys[1], 'b:' .. sender, 'seq', 'mc', 'lt', 'mver', 'kind')
  if meta[1] then return {'forbidden', 'blocked'} end
  local mver = num(meta[5])
  local seq = num(meta[2]) + 1
  local sseq, smc = int(seq), int(num(meta[3]))
  -- Dedupe in one call on the common path: claim the key for seq now, and
  -- give it back if the checks below refuse.
  local dk = sender .. '\n' .. args[2]
  if redis.call('HSETNX', keys[4], dk, sseq) == 0 then
    local old = redis.call('HGET', keys[4], dk)
    local e = find_entry(keys[3], keys[6], old)
    local ev = e and log_event(e) or ''
    return add_members({'dup', num(old), ev, mver}, keys[2], mver, args[7])
  end
  local entry, erased = find_entry(keys[3], keys[6], target)
  local text = entry and log_event(entry)
  local refuse = nil
  if erased or not is_msg(text) then
    refuse = {'not_found'}
  else
    local from = entry_from(entry, text)
    if (kind == 'edit' and from ~= sender) or (kind == 'delete' and from ~= sender and
                                               not (meta[6] == 'group' and role == 'admin')) then
      refuse = {'forbidden', 'not_sender'}
    end
  end
  if refuse then
    redis.call('HDEL', keys[4], dk)
    return refuse
  end
  local t = clock(num(meta[4]))
  local st = int(t)
  if kind == 'delete' then
    erase(keys, target)
  elseif kind == 'edit' then
    -- the edit index of the target (erase finds its edits there)
    local ek = 'e:' .. int(target)
    local list = redis.call('HGET', keys[6], ek)
    redis.call('HSET', keys[6], ek, list and (list .. ',' .. sseq) or sseq)
  end
  redis.call('HSET', keys[1], 'seq', sseq, 'lt', st)
  redis.call('XADD', keys[3], sseq .. '-0', 'e', args[5] .. sseq .. args[6], 't', st, 'k', dk,
             'm', smc)
  redis.call('HSET', keys[5], 'r:' .. sender, sseq, 'd:' .. sender, sseq)
  if seq % 8 == 0 then trim_log(keys[3], keys[4], keys[6], t, num(args[8])) end
  return add_members({'ok', seq, mver}, keys[2], mver, args[7])
end

-- send: KEYS meta, members, log, ids, rcpt, jobs, tomb (all in the conversation's
--      slot; tomb is read only where the log comes back short)
-- ARGV sender, client id, event prefix (ends with "seq":), event suffix, cached mver,
--      retention ms, conv, push preview ("" = none)[, reply_to seq]
-- Reply: ok, seq, mver, members (add_members); or dup, seq, event, mver,
-- members; or not_member; or forbidden, blocked; or not_found (reply_to is
-- no msg of the log, deleted or not).
-- The message path: nothing per recipient, no user keys, no presence.
local function send(keys, args)
  local sender = args[1]
  if redis.call('HEXISTS', keys[2], sender) == 0 then return {'not_member'} end
  local meta = redis.call('HMGET', keys[1], 'b:' .. sender, 'seq', 'mc', 'lt', 'mver')
  if meta[1] then return {'forbidden', 'blocked'} end
  local mver = meta[5] or '0'
  local dk = sender .. '\n' .. args[2]
  -- Numbers are turned into strings once, as integers (int()).
  local seq = num(meta[2]) + 1
  local sseq = int(seq)
  -- Dedupe in one call on the common path: claim the key for seq now (the
  -- function is atomic: nothing else sees the claim before the entry), and
  -- give it back if the reply_to check below refuses.
  if redis.call('HSETNX', keys[4], dk, sseq) == 0 then
    local old = redis.call('HGET', keys[4], dk)
    local e = find_entry(keys[3], keys[7], old)
    local ev = e and log_event(e) or ''
    -- the members too (when the caller's cache is stale): a retry whose
    -- first attempt's reply was lost must reach everyone (store/conv.c)
    return add_members({'dup', num(old), ev, num(mver)}, keys[2], mver, args[5])
  end
  if args[9] and not reply_target(keys[3], keys[7], num(args[9])) then
    redis.call('HDEL', keys[4], dk)
    return {'not_found'}
  end
  local t = clock(num(meta[4]))
  local smc, st = int(num(meta[3]) + 1), int(t)
  redis.call('HSET', keys[1], 'seq', sseq, 'mc', smc, 'lt', st)
  redis.call('XADD', keys[3], sseq .. '-0', 'e', args[3] .. sseq .. args[4], 't', st, 'k', dk,
             'm', smc)
  redis.call('HSET', keys[5], 'r:' .. sender, sseq, 'd:' .. sender, sseq)
  if args[8] ~= '' then
    redis.call('XADD', keys[6], 'MAXLEN', '~', JOBS_MAX_S, '*', 'c', args[7], 's', sseq, 'm', smc,
               'k', 'msg', 'f', sender, 'ts', st, 'p', args[8])
  else
    redis.call('XADD', keys[6], 'MAXLEN', '~', JOBS_MAX_S, '*', 'c', args[7], 's', sseq, 'm', smc,
               'k', 'msg', 'f', sender, 'ts', st)
  end
  if seq % 64 == 0 then
    redis.call('XTRIM', keys[6], 'MINID', '~', int(t - JOBS_AGE_MS) .. '-0')
    trim_log(keys[3], keys[4], keys[7], t, num(args[6]))
  end
  return add_members({'ok', seq, num(mver)}, keys[2], mver, args[5])
end

-- The mc (msg events so far) at seq s of a conversation: the m of the
-- newest log entry at or below s, looking in tomb (may be nil) for entries
-- a delete moved there. nil when there is none (past retention).
local function m_at(log_key, tomb_key, s)
  local e = redis.call('XREVRANGE', log_key, s .. '-0', '-', 'COUNT', 1)[1]
  local below = e and entry_seq(e) or 0
  if below < s and tomb_key then
    -- entries moved to tomb by a delete lie between: the highest one
    local tb = tombs_between(tomb_key, s + 1, below, 2 * RELATE_WINDOW + 2)[1]
    if tb then e = tb[4] end
  end
  if e then return entry_m(e) end
  return nil
end

-- receipt: KEYS meta, members, rcpt, log[, tomb]
-- ARGV user, "delivered"|"read", seq, cached mver
-- Reply: ok, cursor, mver, members (add_members), m: for "read", the number
-- of msg events up to and including the cursor (mc at that log entry; ""
-- when unknown: the entry is past retention), "" for "delivered"; or
-- ignored, cursor; or not_member.
local function receipt(keys, args)
  local user = args[1]
  if redis.call('HEXISTS', keys[2], user) == 0 then return {'not_member'} end
  local meta = redis.call('HMGET', keys[1], 'seq', 'mver', 'mc')
  local last = num(meta[1])
  local s = math.min(num(args[3]), last)
  local read = args[2] == 'read'
  -- both cursors in one read and one write (a read also delivers)
  local fr, fd = 'r:' .. user, 'd:' .. user
  local rd = redis.call('HMGET', keys[3], fr, fd)
  local cur = num(rd[2])
  if read then cur = num(rd[1]) end
  if s <= cur then return {'ignored', cur} end
  local ss = int(s)
  if read and num(rd[2]) < s then
    redis.call('HSET', keys[3], fr, ss, fd, ss)
  else
    redis.call('HSET', keys[3], read and fr or fd, ss)
  end
  local m = ''
  if read then
    if s == last then
      m = num(meta[3])
    else
      m = m_at(keys[4], keys[5], s) or ''
    end
  end
  local mver = num(meta[2])
  local out = add_members({'ok', s, mver}, keys[2], mver, args[4])
  out[#out + 1] = m
  return out
end

-- members: KEYS meta, members. ARGV user, cached mver. Membership check and
-- member list (for typing, which is never stored).
local function members(keys, args)
  if redis.call('HEXISTS', keys[2], args[1]) == 0 then return {'not_member'} end
  local mver = num(redis.call('HGET', keys[1], 'mver'))
  return add_members({'ok', 0, mver}, keys[2], mver, args[2])
end

-- Membership in single-slot steps (issue #16; docs/ARCHITECTURE.md "Redis
-- layout and Redis Cluster"). store/conv.c drives each change: user-slot
-- reads first (do the targets exist, does a target block the one acting),
-- handed to the conversation step as flags; the conversation step (one
-- call in {c:C}) decides and writes the conversation's truth, the member
-- event and its job (with v = mver and the users who came in, a, or went
-- out, u); then one user_conv call per changed user brings the user's index
-- in line. The flags per user are "0" (exists, no block), "n" (no such
-- user) or "b" (the user blocks the one acting).

-- user_conv (user slot): KEYS user record, convs, gone, cver of one user.
-- ARGV conv, mver, "in"|"out", time (ms: the gone score of an out).
-- Applies "the user is in / out of conv as of membership version mver"
-- unless cver already holds a version at least as new: steps of concurrent
-- changes converge on the conversation's truth whatever their order, and
-- running one twice (mqchat-push's repair) changes nothing. A deleted user
-- gets nothing written. Reply: ok, 1 applied | 0 not.
local function user_conv(keys, args)
  local conv, v = args[1], num(args[2])
  if redis.call('EXISTS', keys[1]) == 0 then return {'ok', 0} end
  if num(redis.call('HGET', keys[4], conv)) >= v then return {'ok', 0} end
  redis.call('HSET', keys[4], conv, v)
  if args[3] == 'in' then
    redis.call('SADD', keys[2], conv)
    redis.call('ZREM', keys[3], conv)
  else
    redis.call('SREM', keys[2], conv)
    redis.call('ZADD', keys[3], num(args[4]), conv)
  end
  return {'ok', 1}
end

-- create_direct (conversation slot): KEYS meta, members.
-- ARGV a (the creator), b, conv, now, flag of a, flag of b ("b": b blocks
-- a), a blocks b (0/1).
-- Reply: ok, created (0/1), mver, n, the n members (whose index the user
-- steps bring in line: a repair when it already existed).
-- forbidden when b blocks a; when a blocks b, the conversation carries the
-- mark that refuses b's sends (block_mark()). Both members see the log from
-- its start (no j: cursors), and there is no creation event.
local function create_direct(keys, args)
  if args[6] == 'b' then return {'forbidden', 'blocked'} end
  local created = 0
  if redis.call('EXISTS', keys[1]) == 1 then
    if redis.call('HGET', keys[1], 'kind') ~= 'direct' then return {'exists'} end
  else
    if args[5] == 'n' or args[6] == 'n' then return {'not_found'} end
    redis.call('HSET', keys[1], 'kind', 'direct', 'created', args[4], 'creator', args[1],
               'seq', 0, 'mver', 1, 'mc', 0)
    redis.call('HSET', keys[2], args[1], 'member', args[2], 'member')
    created = 1
  end
  if args[7] == '1' then redis.call('HSET', keys[1], 'b:' .. args[2], 1) end
  local users = redis.call('HKEYS', keys[2])
  local out = {'ok', created, num(redis.call('HGET', keys[1], 'mver')), #users}
  for _, u in ipairs(users) do out[#out + 1] = u end
  return out
end

-- create_group (conversation slot): KEYS meta, members, log, rcpt, jobs.
-- ARGV creator, conv, title, now, max members, then (member, flag) pairs
-- (creator first; flag "b": the member blocks the creator).
-- Reply: ok, 1 (seq), 1 (mver), event, t, n, members (n), 0 (none gone),
-- 0 (the members are the users who came in).
-- forbidden when the group would pass max members or a member blocks the creator.
local function create_group(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then return {'exists'} end
  if (#args - 5) / 2 > num(args[5]) then return {'forbidden', 'full'} end
  local users = {}
  for i = 6, #args, 2 do
    if args[i + 1] == 'n' then return {'not_found', args[i]} end
    if i > 6 and args[i + 1] == 'b' then return {'forbidden', 'blocked'} end
    users[#users + 1] = args[i]
  end
  local t = clock(0)
  redis.call('HSET', keys[1], 'kind', 'group', 'title', args[3], 'created', args[4],
             'creator', args[1], 'seq', 1, 'mver', 1, 'mc', 0, 'lt', t)
  for _, u in ipairs(users) do
    redis.call('HSET', keys[2], u, (u == args[1]) and 'admin' or 'member')
  end
  local ev = member_event(args[2], 1, 'added', users, args[1], args[4])
  redis.call('XADD', keys[3], '1-0', 'e', ev, 't', t, 'm', 0)
  redis.call('HSET', keys[4], 'r:' .. args[1], 1, 'd:' .. args[1], 1, 'jm', 0)
  add_job(keys[5], {'c', args[2], 's', 1, 'm', 0, 'k', 'member', 'f', args[1], 'ts', t,
                    'u', '', 'v', 1, 'a', table.concat(users, ',')}, 1, t)
  local out = {'ok', 1, 1, ev, t, #users}
  for _, u in ipairs(users) do out[#out + 1] = u end
  out[#out + 1] = 0
  out[#out + 1] = 0
  return out
end

-- change (conversation slot): add / remove / leave.
-- KEYS meta, members, log, rcpt, jobs
-- ARGV by, op ("add"|"remove"|"leave"), conv, now, max members, then
-- (target, flag) pairs (flags matter for add only)
-- Reply: ok, seq, mver, event, t, n, members after (n), g, users no longer
-- members (g), a, users who became members (a);
-- noop, mver, a, the targets of an add who already are members (their
-- index is re-applied: a repair);
-- forbidden (+ "full" when an add would pass max members, "blocked" when a
-- user to add blocks by).
-- Visibility for sync: an added user sees the log from this event on (j:),
-- a removed one up to and including it (x:, and the user's gone zset).
local function change(keys, args)
  local by, op, conv, now = args[1], args[2], args[3], args[4]
  local role = redis.call('HGET', keys[2], by)
  if not role then return {'not_member'} end
  if redis.call('HGET', keys[1], 'kind') ~= 'group' then return {'forbidden'} end
  if op ~= 'leave' and role ~= 'admin' then return {'forbidden'} end
  local changed, already = {}, {}
  for i = 6, #args, 2 do
    local u = args[i]
    local is_member = redis.call('HEXISTS', keys[2], u) == 1
    if op == 'add' and not is_member then
      if args[i + 1] == 'n' then return {'not_found', u} end
      if args[i + 1] == 'b' then return {'forbidden', 'blocked'} end
      changed[#changed + 1] = u
    elseif op ~= 'add' and is_member then
      changed[#changed + 1] = u
    elseif op == 'add' then
      already[#already + 1] = u
    end
  end
  if #changed == 0 then
    local out = {'noop', num(redis.call('HGET', keys[1], 'mver')), #already}
    for _, u in ipairs(already) do out[#out + 1] = u end
    return out
  end
  if op == 'add' and redis.call('HLEN', keys[2]) + #changed > num(args[5]) then
    return {'forbidden', 'full'}
  end
  local meta = redis.call('HMGET', keys[1], 'seq', 'mc', 'lt')
  local seq, mc = num(meta[1]) + 1, num(meta[2])
  local t = clock(num(meta[3]))
  -- jm: the last seq with a late joiner (mqc2_recipients skips the j:
  -- reads for the events after it)
  if op == 'add' then redis.call('HSET', keys[4], 'jm', seq) end
  for _, u in ipairs(changed) do
    if op == 'add' then
      redis.call('HSET', keys[2], u, 'member')
      redis.call('HSET', keys[4], 'j:' .. u, seq)
      redis.call('HDEL', keys[4], 'x:' .. u)
    else
      redis.call('HDEL', keys[2], u)
      redis.call('HSET', keys[4], 'x:' .. u, seq)
    end
  end
  local all = redis.call('HGETALL', keys[2])
  local has_admin, first = false, nil
  for i = 1, #all, 2 do
    if all[i + 1] == 'admin' then has_admin = true end
    if not first or all[i] < first then first = all[i] end
  end
  if not has_admin and first then redis.call('HSET', keys[2], first, 'admin') end
  redis.call('HSET', keys[1], 'seq', seq, 'lt', t)
  local mver = redis.call('HINCRBY', keys[1], 'mver', 1)
  local ev_op = ({add = 'added', remove = 'removed', leave = 'left'})[op]
  local ev = member_event(conv, seq, ev_op, changed, by, now)
  redis.call('XADD', keys[3], seq .. '-0', 'e', ev, 't', t, 'm', mc)
  if op ~= 'leave' then
    redis.call('HSET', keys[4], 'r:' .. by, seq, 'd:' .. by, seq)
  end
  local list = table.concat(changed, ',')
  add_job(keys[5], {'c', conv, 's', seq, 'm', mc, 'k', 'member', 'f', by, 'ts', t,
                    'u', op == 'add' and '' or list, 'v', mver,
                    'a', op == 'add' and list or ''}, seq, t)
  local out = {'ok', seq, mver, ev, t, #all / 2}
  for i = 1, #all, 2 do out[#out + 1] = all[i] end
  if op == 'add' then
    out[#out + 1] = 0
    out[#out + 1] = #changed
  else
    out[#out + 1] = #changed
  end
  for _, u in ipairs(changed) do out[#out + 1] = u end
  if op ~= 'add' then out[#out + 1] = 0 end
  return out
end

-- conv_info (the `convs` request, one call per conversation of the user,
-- pipelined by store/convs.c after it read the user's index; single-slot):
-- KEYS meta, members, rcpt, log, tomb of one conversation. ARGV user.
-- Reply: ok, kind, title, last seq, read seq, unread (msg events after the
-- read seq), n, then n (user, role) pairs; or skip when the conversation is
-- gone or the user is not a member of it (the user's index may list it
-- briefly after a removal: docs/ARCHITECTURE.md "Membership split").
local function conv_info(keys, args)
  local user = args[1]
  local meta = redis.call('HMGET', keys[1], 'kind', 'title', 'seq', 'mc')
  if not meta[1] or redis.call('HEXISTS', keys[2], user) == 0 then return {'skip'} end
  local all = redis.call('HGETALL', keys[2])
  local last, mc = num(meta[3]), num(meta[4])
  local read = num(redis.call('HGET', keys[3], 'r:' .. user))
  -- unread: the msg events after the read cursor (member events and
  -- relations do not count)
  local unread = 0
  if read < last then
    local mr = 0
    if read > 0 then mr = m_at(keys[4], keys[5], read) or 0 end
    unread = math.max(mc - mr, 0)
  end
  local out = {'ok', meta[1], meta[2] or '', last, read, unread, #all / 2}
  for i = 1, #all do out[#out + 1] = all[i] end
  return out
end

-- history: KEYS meta, members, log[, tomb]. ARGV user, before ("" = newest), limit,
-- max reply bytes. Reply: ok, more (0/1), events ascending.
-- Newest first until limit events or about max bytes (the newest always
-- goes), read from the log a few entries at a time: a page of large
-- messages stops early with more = 1, so no request makes Redis build (or
-- the broker queue) a reply of up to limit x max_message_bytes.
-- Erased entries (deleted messages and their edits) come from tomb where
-- the log's seqs have a gap, and below its oldest entry.
local function history(keys, args)
  if redis.call('HEXISTS', keys[2], args[1]) == 0 then return {'not_member'} end
  local limit, maxb = num(args[3]), num(args[4])
  local hi, top = '+', nil
  if args[2] ~= '' then
    local b = num(args[2])
    if b <= 1 then return {'ok', 0} end
    hi = (b - 1) .. '-0'
    top = b
  end
  local items, bytes, more = {}, 0, 0
  -- false when the page is full: more = 1
  local function add(text)
    if #items == limit or (#items > 0 and bytes + #text > maxb) then
      more = 1
      return false
    end
    items[#items + 1] = text
    bytes = bytes + #text
    return true
  end
  local full = false
  while not full do
    local want = math.min(limit - #items, 32) + 1
    local got = redis.call('XREVRANGE', keys[3], hi, '-', 'COUNT', want)
    for i = 1, #got do
      local s = entry_seq(got[i])
      if top then
        for _, tb in ipairs(tombs_between(keys[4], top, s, limit - #items + 1)) do
          if not add(tb[3]) then full = true break end
        end
      end
      if full then break end
      local text = log_event(got[i])
      if text and not add(text) then full = true break end
      top = s
    end
    if not full and #got < want then
      -- the oldest entry: below it, erased entries until the first seq
      -- with no tombstone (older ones were trimmed by retention)
      local s = (top or 1) - 1
      while keys[4] and s >= 1 do
        local v = redis.call('HGET', keys[4], s)
        if not v then break end
        if not add(select(2, tomb_split(v))) then break end
        s = s - 1
      end
      break
    end
    if not full then hi = '(' .. got[#got][1] end
  end
  local out = {'ok', more}
  for i = #items, 1, -1 do out[#out + 1] = items[i] end
  return out
end

-- Presence is kept per node (a user may have devices on several brokers):
-- fields s:<node> (that node's state for the user) and d:<node> (its device
-- count); 'state', 'devices' and 'last_seen' are the user's aggregate: the
-- most present state of any node (online > away > offline), the total of
-- devices, and when the aggregate last changed.
local rank = {online = 3, away = 2, offline = 1}

-- Recompute the aggregate of presence hash k. Returns state, devices.
local function aggregate(k)
  local all = redis.call('HGETALL', k)
  local best, total = 'offline', 0
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    if string.sub(f, 1, 2) == 's:' then
      if (rank[v] or 0) > rank[best] then best = v end
    elseif string.sub(f, 1, 2) == 'd:' then
      total = total + (tonumber(v) or 0)
    end
  end
  return best, total
end

-- Set node's share (state st, n devices) of presence hash k and the
-- aggregate. Returns changed (bool), state, last_seen.
local function presence_set(k, node, st, n, now)
  if st == 'offline' and n == 0 then
    redis.call('HDEL', k, 's:' .. node, 'd:' .. node)
  else
    redis.call('HSET', k, 's:' .. node, st, 'd:' .. node, n)
  end
  local best, total = aggregate(k)
  local cur = redis.call('HMGET', k, 'state', 'last_seen')
  if cur[1] ~= best then
    redis.call('HSET', k, 'state', best, 'devices', total, 'last_seen', now, 'node', node)
    return true, best, now
  end
  redis.call('HSET', k, 'devices', total)
  return false, best, cur[2] or now
end

-- presence: this node's state for a user changed (the user's slot; the
-- node's set of users, {n:N}:users, is written by store/presence.c around
-- it: SADD before an online/away state, SREM after offline or "gone").
-- KEYS presence hash of the user, the user's record
-- ARGV state, last_seen, node, devices (on this node)
-- Reply: ok, 1|0 (the aggregate changed), aggregate state, its last_seen;
-- or gone, 0, offline, last_seen when the user does not exist: a deleted
-- user stays deleted, whatever a node writes late about their devices
-- (the disconnects of the kicked ones).
local function presence(keys, args)
  if redis.call('EXISTS', keys[2]) == 0 then
    return {'gone', 0, 'offline', tostring(args[2])}
  end
  local changed, st, seen = presence_set(keys[1], args[3], args[1], tonumber(args[4]) or 0,
                                         args[2])
  return {'ok', changed and 1 or 0, st, tostring(seen)}
end

-- devices: the number of a user's devices on a node changed (no state yet).
-- KEYS presence hash, the user's record. ARGV node, devices.
local function devices(keys, args)
  if redis.call('EXISTS', keys[2]) == 0 then return {'ok'} end
  local n = tonumber(args[2]) or 0
  if n == 0 then
    redis.call('HDEL', keys[1], 'd:' .. args[1])
  else
    redis.call('HSET', keys[1], 'd:' .. args[1], n)
  end
  local _, total = aggregate(keys[1])
  redis.call('HSET', keys[1], 'devices', total)
  return {'ok'}
end

-- presence_reset (a node's reset, one call per user it had shown present,
-- pipelined by store/presence.c after it read the node's {n:N}:users; the
-- user's slot): a node (re)starts, or another node found it dead; nobody
-- it knew is connected to it any more. KEYS the user's presence hash, the
-- user's record. ARGV node, now.
-- Reply: ok, 1 when the user's aggregate turned offline (users with devices
-- on other nodes stay as they are) else 0, the last_seen to announce.
-- Idempotent: a second call finds nothing of the node and answers 0. A
-- deleted user (still in a node's set) is left alone: 0.
local function presence_reset(keys, args)
  local k = keys[1]
  if redis.call('EXISTS', keys[2]) == 0 then return {'ok', 0, ''} end
  local before = redis.call('HGET', k, 'state')
  local cur_seen = redis.call('HGET', k, 'last_seen')
  local changed, st = presence_set(k, args[1], 'offline', 0, cur_seen or args[2])
  local off = changed and st == 'offline' and before ~= 'offline'
  return {'ok', off and 1 or 0, tostring(cur_seen or args[2])}
end

-- user_lists (presence contacts, step 1 of store/presence.c; the user's
-- slot): KEYS the user's convs, the user's blocked set.
-- Reply: ok, n, the n conversations, then the users the user blocks.
-- Step 2 reads each conversation's members (mqc1_members, its slot), step 3
-- whether each other member blocks the user (SISMEMBER, their slot).
local function user_lists(keys, args)
  local cs = redis.call('SMEMBERS', keys[1])
  local out = {'ok', #cs}
  for i = 1, #cs do out[i + 2] = cs[i] end
  for _, u in ipairs(redis.call('SMEMBERS', keys[2])) do out[#out + 1] = u end
  return out
end

-- block_mark (conversation slot): KEYS the meta of the direct conversation
-- of a pair. ARGV other, "block"|"unblock". The conversation, if there is
-- one, gets (or loses) the mark that refuses other's sends. The blocker's
-- set ({u:U}:blocked) is written by a plain SADD/SREM in the blocker's
-- slot (store/block.c). Idempotent. Reply: ok.
local function block_mark(keys, args)
  if redis.call('HGET', keys[1], 'kind') == 'direct' then
    if args[2] == 'block' then
      redis.call('HSET', keys[1], 'b:' .. args[1], 1)
    else
      redis.call('HDEL', keys[1], 'b:' .. args[1])
    end
  end
  return {'ok'}
end

-- blocked: KEYS the user's blocked set. Reply: ok, the blocked users sorted.
local function blocked(keys, args)
  local all = redis.call('SMEMBERS', keys[1])
  table.sort(all)
  local out = {'ok'}
  for _, u in ipairs(all) do out[#out + 1] = u end
  return out
end

-- sync_user (fan-out on read, step 1): KEYS the user's convs, the user's gone zset.
-- ARGV since T ("" = none: just the current position), retention ms.
-- Reply: ok, W (Redis TIME, ms), reset (0/1: T is older than retention),
-- then the conversations whose logs may hold events for the user: every
-- conversation of the user and those the user stopped being a member of at
-- or after T (their removal event is still to be seen). Gone entries past
-- retention are dropped here.
local function sync_user(keys, args)
  local w = clock(0)
  local floor = w - num(args[2])
  redis.call('ZREMRANGEBYSCORE', keys[2], '-inf', '(' .. floor)
  if args[1] == '' then return {'ok', w, 0} end
  local since = num(args[1])
  if since < floor then return {'ok', w, 1} end
  local out = {'ok', w, 0}
  local cs = redis.call('SMEMBERS', keys[1])
  for i = 1, #cs do out[i + 3] = cs[i] end
  for _, c in ipairs(redis.call('ZRANGEBYSCORE', keys[2], since, '+inf')) do
    if redis.call('SISMEMBER', keys[1], c) == 0 then out[#out + 1] = c end
  end
  return out
end

-- The log entries list (ascending) with the erased ones among them put back
-- as tombstones (entries {"<seq>-0", {e, json, t, t}}): in the seq gaps of
-- list, and below its first entry down to lo while they are after the
-- position (after(entry)). Costs nothing when list has no gap and its
-- first entry is not after the position.
local function with_tombs(tomb_key, list, lo, limit, after)
  if not tomb_key or #list == 0 then return list end
  local function mk(s, t, text) return {s .. '-0', {'e', text, 't', t}} end
  local out = {}
  if after(list[1]) then
    -- Those below the first entry that are after the position are one run
    -- of seqs in tomb (a log entry among them would be after it too, and
    -- would come first): binary search for its start (a delete moves runs
    -- of up to 201), then the page keeps its oldest limit + 1.
    local top = entry_seq(list[1]) - 1
    local a, z, start = lo, top, top + 1
    while a <= z do
      local mid = math.floor((a + z) / 2)
      local v = redis.call('HGET', tomb_key, mid)
      local e = v and tomb_entry(mid, v)
      if e and after(e) then
        start, z = mid, mid - 1
      else
        a = mid + 1
      end
    end
    for _, g in ipairs(tombs_between(tomb_key, math.min(top, start + limit) + 1, start - 1,
                                     limit + 1, true)) do
      out[#out + 1] = mk(g[1], g[2], g[3])
    end
  end
  -- The lowest seq in (lo, hi) whose tombstone is after the position (hi if
  -- none): the tombstones of a gap are in seq order, so after() splits them
  -- in two (a missing one, swept by retention, is older than any position).
  local function first_after(lo_s, hi_s)
    local a, z, best = lo_s + 1, hi_s - 1, hi_s
    while a <= z do
      local mid = math.floor((a + z) / 2)
      local v = redis.call('HGET', tomb_key, mid)
      local t, text = 0, nil
      if v then t, text = tomb_split(v) end
      if v and after(mk(mid, t, text)) then
        best, z = mid, mid - 1
      else
        a = mid + 1
      end
    end
    return best
  end
  -- past limit + 1 events after the position the page is full: stop there
  local n_after = #out
  for i, e in ipairs(list) do
    if n_after > limit then break end
    if i > 1 then
      local lo_s, hi_s = entry_seq(list[i - 1]), entry_seq(e)
      if hi_s - lo_s > 1 and not after(list[i - 1]) then lo_s = first_after(lo_s, hi_s) - 1 end
      local gap = tombs_between(tomb_key, hi_s, lo_s, limit + 1, true)
      for _, g in ipairs(gap) do
        local x = mk(g[1], g[2], g[3])
        out[#out + 1] = x
        if after(x) then n_after = n_after + 1 end
      end
    end
    out[#out + 1] = e
    if after(e) then n_after = n_after + 1 end
  end
  return out
end

-- sync_conv (fan-out on read, step 2; no writes): KEYS meta, rcpt, log[, tomb[,
-- members]] of one conversation (with members: a user neither a member nor
-- removed gets nothing). ARGV user, T, S, W, limit, max bytes.
-- The events the user may see (seq >= j:<user>, and <= x:<user> when set)
-- that come after the position: t > T, or t == T and seq > S; and t < W.
-- Reply: ok, more (0/1: events after the last one returned are left), then
-- (t, seq, event) for each, ascending, at most limit and about max bytes
-- (at least one). Cost: the events returned, plus a binary search over seq
-- (t never decreases with seq) when more than limit are pending.
local function sync_conv(keys, args)
  local T, S, W = num(args[2]), num(args[3]), num(args[4])
  local meta = redis.call('HMGET', keys[1], 'lt', 'seq')
  local lt, last = num(meta[1]), num(meta[2])
  if lt < T or (lt == T and last <= S) then return {'ok', 0} end
  local user = args[1]
  local rc = redis.call('HMGET', keys[2], 'j:' .. user, 'x:' .. user)
  -- A stale index (a user step not applied yet, docs/ARCHITECTURE.md) may
  -- list a conversation the user is neither a member of nor was removed
  -- from: nothing of it is the user's.
  if not rc[2] and keys[5] and redis.call('HEXISTS', keys[5], user) == 0 then
    return {'ok', 0}
  end
  local lo, hi = math.max(num(rc[1]), 1), last
  if rc[2] then hi = math.min(hi, num(rc[2])) end
  if lo > hi then return {'ok', 0} end
  local limit, maxb = num(args[5]), num(args[6])
  local function after(e)
    local t = entry_t(e)
    return t > T or (t == T and entry_seq(e) > S)
  end
  local got = redis.call('XREVRANGE', keys[3], hi .. '-0', lo .. '-0', 'COUNT', limit + 1)
  local list, n = {}, #got
  if n <= limit or not after(got[n]) then
    for i = n, 1, -1 do list[#list + 1] = got[i] end
  else
    -- More than limit pending: find the first entry after the position.
    local best, a, z = entry_seq(got[n]), lo, entry_seq(got[n]) - 1
    while a <= z do
      local mid = math.floor((a + z) / 2)
      local e = redis.call('XRANGE', keys[3], mid .. '-0', z .. '-0', 'COUNT', 1)[1]
      if not e then
        z = mid - 1
      elseif after(e) then
        best, z = entry_seq(e), mid - 1
      else
        a = entry_seq(e) + 1
      end
    end
    list = redis.call('XRANGE', keys[3], best .. '-0', hi .. '-0', 'COUNT', limit + 1)
  end
  list = with_tombs(keys[4], list, lo, limit, after)
  local out, count, bytes = {'ok', 0}, 0, 0
  for _, e in ipairs(list) do
    local t = entry_t(e)
    if t >= W then break end
    if t > T or (t == T and entry_seq(e) > S) then
      local text = log_event(e)
      if text then
        if count == limit or (count > 0 and bytes + #text > maxb) then
          out[2] = 1
          break
        end
        out[#out + 1] = t
        out[#out + 1] = entry_seq(e)
        out[#out + 1] = text
        count = count + 1
        bytes = bytes + #text
      end
    end
  end
  return out
end

-- upgrade_conv (mqchat store upgrade): KEYS meta, log[, rcpt]. A conversation written
-- by v1 gets mc = seq (v1 entries count as m = seq) and lt = its last log
-- entry's time; with rcpt, a conversation of before the late-joiner mark
-- gets jm = its highest j: cursor (0: none; mqc2_recipients). Idempotent.
-- Reply: ok, 1 if it changed anything, else 0.
local function upgrade_conv(keys, args)
  local meta = redis.call('HMGET', keys[1], 'seq', 'mc', 'lt')
  if redis.call('EXISTS', keys[1]) == 0 then return {'ok', 0} end
  local changed = 0
  if keys[3] and redis.call('HEXISTS', keys[3], 'jm') == 0 then
    local jm, all = 0, redis.call('HGETALL', keys[3])
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'j:' then jm = math.max(jm, num(all[i + 1])) end
    end
    redis.call('HSET', keys[3], 'jm', int(jm))
    changed = 1
  end
  if not meta[2] then
    redis.call('HSET', keys[1], 'mc', num(meta[1]))
    changed = 1
  end
  if not meta[3] then
    local e = redis.call('XREVRANGE', keys[2], '+', '-', 'COUNT', 1)[1]
    redis.call('HSET', keys[1], 'lt', e and entry_t(e) or 0)
    changed = 1
  end
  return {'ok', changed}
end

-- upgrade_user (mqchat store upgrade; mqc3_: its keys changed from mqc2_'s, an
-- older mqchat calling mqc2_upgrade_user finds no function rather than the
-- wrong one): KEYS unread, tl, tlfloor of one user.
-- ARGV then (conv, last seq, read cursor) per conversation of the user, read
-- beforehand by store/upgrade.c in each conversation's slot (single-slot).
-- Builds the unread counters from v1's cursors (c:<conv> = seq, r:<conv> =
-- the read cursor, at most seq; total = the v1 badge) and deletes the v1
-- timeline. Idempotent: a user with an unread hash is left as it is.
-- Reply: ok, 1 if it changed anything, else 0.
local function upgrade_user(keys, args)
  local changed = redis.call('DEL', keys[2], keys[3]) > 0 and 1 or 0
  if redis.call('EXISTS', keys[1]) == 1 then return {'ok', changed} end
  local total = 0
  for i = 1, #args - 2, 3 do
    local last = num(args[i + 1])
    local read = math.min(num(args[i + 2]), last)
    redis.call('HSET', keys[1], 'c:' .. args[i], last, 'r:' .. args[i], read)
    total = total + last - read
  end
  redis.call('HSET', keys[1], 'total', total)
  return {'ok', 1}
end

-- user_leave (mqchat user del, one call per conversation of the user, in
-- its slot; store/users.c runs them, then the user's own keys, then the
-- record): the user leaves the conversation for good.
-- KEYS meta, members, rcpt, log, ids, tomb, the job stream of its slot.
-- ARGV user, conv, now (ms, the event's ts).
-- Reply: ok, then what it did: "none" (the user was not a member: an
-- earlier run did it, or the index was stale; their cursors go anyway),
-- "deleted" (nobody is left: every key of the conversation is deleted),
-- "direct" (the other member keeps the conversation and its history), or
-- "left", seq, event, then the members left (a group: the others get a
-- "left" event, stored with its job for mqchat-push like a leave; the
-- caller sends it live). Idempotent: a second call answers "none".
local function user_leave(keys, args)
  local user, c, now = args[1], args[2], args[3]
  local was = redis.call('HDEL', keys[2], user) == 1
  redis.call('HDEL', keys[3], 'd:' .. user, 'r:' .. user, 'j:' .. user, 'x:' .. user)
  if not was then return {'ok', 'none'} end
  local all = redis.call('HGETALL', keys[2])
  if #all == 0 then
    redis.call('DEL', keys[1], keys[2], keys[3], keys[4], keys[5], keys[6])
    return {'ok', 'deleted'}
  end
  if redis.call('HGET', keys[1], 'kind') ~= 'group' then
    redis.call('HINCRBY', keys[1], 'mver', 1)
    return {'ok', 'direct'}
  end
  local has_admin, first, users = false, nil, {}
  for i = 1, #all, 2 do
    users[#users + 1] = all[i]
    if all[i + 1] == 'admin' then has_admin = true end
    if not first or all[i] < first then first = all[i] end
  end
  if not has_admin then redis.call('HSET', keys[2], first, 'admin') end
  local meta = redis.call('HMGET', keys[1], 'seq', 'mc', 'lt')
  local seq, mc = num(meta[1]) + 1, num(meta[2])
  local t = clock(num(meta[3]))
  redis.call('HSET', keys[1], 'seq', seq, 'lt', t)
  redis.call('HINCRBY', keys[1], 'mver', 1)
  local ev = member_event(c, seq, 'left', {user}, user, now)
  redis.call('XADD', keys[4], seq .. '-0', 'e', ev, 't', t, 'm', mc)
  add_job(keys[7], {'c', c, 's', seq, 'm', mc, 'k', 'member', 'f', user, 'ts', t,
                    'u', user}, seq, t)
  local out = {'ok', 'left', seq, ev}
  for _, u in ipairs(users) do out[#out + 1] = u end
  return out
end

-- token_release (mqchat user del, per push token of the user): KEYS
-- P devtoken:<token>. ARGV user. Deletes the index entry when it still
-- names the user (the token may have moved to someone else). Reply: ok.
local function token_release(keys, args)
  if redis.call('GET', keys[1]) == args[1] then redis.call('DEL', keys[1]) end
  return {'ok'}
end

redis.register_function('mqc2_sync_user', sync_user)
redis.register_function{function_name = 'mqc2_sync_conv', callback = sync_conv,
                        flags = {'no-writes'}}
redis.register_function('mqc2_upgrade_conv', upgrade_conv)
redis.register_function('mqc3_upgrade_user', upgrade_user)
redis.register_function('mqc2_user_leave', user_leave)
redis.register_function('mqc2_token_release', token_release)

-- ---------------------------------------------------------------------------
-- Accounts (store/users.c). Replies are integers: 1 done, 0 not done.

-- Creating a user is two single-slot steps (store/users.c): the record
-- here, written with ix = 1 ("the index entry may be missing"), then SADD
-- to P users (no hash tag: its own slot) and HDEL ix. A crash between them
-- leaves ix, and the next add / ensure of the user does the second step
-- again; `user list` skips index entries whose record is gone.

-- user_add: KEYS the user's record. ARGV password hash, now.
-- 1 created; 0 the user exists; 2 exists with the index step pending.
local function user_add(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then
    return redis.call('HEXISTS', keys[1], 'ix') == 1 and 2 or 0
  end
  redis.call('HSET', keys[1], 'pw', args[1], 'created', args[2], 'ix', 1)
  return 1
end

-- user_ensure: a user vouched for by a token, created without a password
-- when missing. KEYS as user_add. ARGV now. Replies as user_add.
local function user_ensure(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then
    return redis.call('HEXISTS', keys[1], 'ix') == 1 and 2 or 0
  end
  redis.call('HSET', keys[1], 'created', args[1], 'via', 'jwt', 'ix', 1)
  return 1
end

-- ---------------------------------------------------------------------------
-- The push queue (store/pushq.c, mqchat-push).

-- push_move: due retries back into the job stream. KEYS the delayed set,
-- the job stream (P{push}:delay, P{push}: one slot). ARGV now (ms). Moves
-- at most 200. Reply: how many.
local function push_move(keys, args)
  local due = redis.call('ZRANGEBYSCORE', keys[1], '-inf', args[1], 'LIMIT', 0, 200)
  for _, m in ipairs(due) do
    local f = cjson.decode(m)
    redis.call('XADD', keys[2], '*', unpack(f))
    redis.call('ZREM', keys[1], m)
  end
  return #due
end

-- push_drop_device: a push service said a token is dead. KEYS the user's
-- devices, the token's owner index. ARGV token, user. The index goes only
-- if it still names the user (the token may have moved on). Reply: 1.
local function push_drop_device(keys, args)
  redis.call('HDEL', keys[1], args[1])
  if redis.call('GET', keys[2]) == args[2] then redis.call('DEL', keys[2]) end
  return 1
end

-- ---------------------------------------------------------------------------
-- Lazy fan-out, the deferred half (mqchat-push, store/jobs.c; the design is
-- FANOUT.md / docs/ARCHITECTURE.md). Per-user unread counters live in
-- P{u:U}:unread: c:<conv> = highest mc counted, r:<conv> = mc at the read
-- cursor, total = sum of (c - r). Every update takes maxima, so replaying
-- one (a job expanded twice, receipts out of order) changes nothing.

-- Max-update conv's share of unread hash k: c = max(c, counted), r =
-- max(r, read) (nil = unchanged), c raised to r; total moved by the change
-- of c - r (never below 0). Returns the new total and r. counted_s: counted
-- as the caller got it, a decimal string (optional: saves formatting it).
-- Invariant: c >= r (every write goes through here), so counting a new
-- message (counted > c, no read) moves total by counted - c: the common
-- case (one per recipient of every message) is one HMGET and one HSET.
-- Also returns r and c as they were before, third and fourth.
local function unread_apply(k, conv, counted, read, counted_s)
  local fc, fr = 'c:' .. conv, 'r:' .. conv
  local cur = redis.call('HMGET', k, fc, fr, 'total')
  local c0, r0, total = num(cur[1]), num(cur[2]), num(cur[3])
  if counted and not read and counted > c0 then
    total = total + counted - c0
    redis.call('HSET', k, fc, counted_s or int(counted), 'total', int(total))
    return total, r0, r0, c0
  end
  local c, r = c0, r0
  if counted and counted > c then c = counted end
  if read and read > r then r = read end
  if r > c then c = r end
  if c ~= c0 or r ~= r0 then
    total = math.max(total + (c - r) - (c0 - r0), 0)
    redis.call('HSET', k, fc, int(c), fr, int(r), 'total', int(total))
  end
  return total, r, r0, c0
end

-- unread (user slot): KEYS the user's unread. ARGV conv, counted mc ("" =
-- none), read mc ("" = none). The broker calls it after a read receipt
-- (with the mc at the read position). Reply: ok, total.
local function unread(keys, args)
  local counted, read = tonumber(args[2]), tonumber(args[3])
  local total = unread_apply(keys[1], args[1], counted, read)
  return {'ok', total}
end

-- recipients (conversation slot, no writes): KEYS members, rcpt. ARGV seq.
-- The members who see event seq: those whose join seq j:<u> is <= seq (no
-- j = a member from the start). Reply: ok, n, the n members who joined
-- with this very event (j = seq), then the others. When the conversation's
-- last add (jm) is before seq, no member joined at or after seq: the j:
-- cursors are not read (jm absent, a store of before the mark: read them).
local function recipients(keys, args)
  local seq = num(args[1])
  local users = redis.call('HKEYS', keys[1])
  if #users == 0 then return {'ok', 0} end
  local jm = tonumber(redis.call('HGET', keys[2], 'jm'))
  if jm and jm < seq then
    table.insert(users, 1, 0)
    table.insert(users, 1, 'ok')
    return users
  end
  local fields = {}
  for i, u in ipairs(users) do fields[i] = 'j:' .. u end
  local js = redis.call('HMGET', keys[2], unpack(fields))
  local joined, others = {}, {}
  for i, u in ipairs(users) do
    local j = tonumber(js[i])
    if not j or j < seq then
      others[#others + 1] = u
    elseif j == seq then
      joined[#joined + 1] = u
    end
  end
  local out = {'ok', #joined}
  for _, u in ipairs(joined) do out[#out + 1] = u end
  for _, u in ipairs(others) do out[#out + 1] = u end
  return out
end

-- expand: one stored event for a batch of its recipients (mqchat-push;
-- all users of a job in one call on a single Redis, one call per slot in a
-- cluster). KEYS per user: unread, presence, mute, devices. ARGV conv, seq,
-- m (mc after the event), kind ("msg" | "member"), from, now (ms), n, then
-- the users; the first n users joined or left with this event.
-- Counting: a msg counts for every recipient (c = max(c, m)); the sender
-- has read it (r = max(r, m): c = r when processed in order); a user who
-- joined or left has nothing of the conversation unread up to m; member
-- events count nothing else. Push: as the send path decided before lazy
-- fan-out: not the sender, no device in the foreground (devices == 0 or
-- state away), the conversation not muted at now, and a push device; and
-- the event not already read (r >= seq's m on another device).
-- Reply: ok, then (user, badge = unread total) per user to push.
local function expand(keys, args)
  local conv, m, kind, from, now = args[1], num(args[3]), args[4], args[5], num(args[6])
  local nreset = num(args[7])
  local out = {'ok'}
  for i = 8, #args do
    local u, k = args[i], (i - 8) * 4
    local total, r
    if i - 7 <= nreset or (kind == 'msg' and u == from) then
      total, r = unread_apply(keys[k + 1], conv, m, m)
    elseif kind == 'msg' then
      total, r = unread_apply(keys[k + 1], conv, m, nil, args[3])
    else
      total, r = unread_apply(keys[k + 1], conv, nil, nil)
    end
    -- cheapest test first: most users without a device stop at EXISTS
    if u ~= from and not (kind == 'msg' and r >= m) and
        redis.call('EXISTS', keys[k + 4]) == 1 and
        num(redis.call('HGET', keys[k + 3], conv)) <= now then
      local p = redis.call('HMGET', keys[k + 2], 'state', 'devices')
      if num(p[2]) == 0 or p[1] == 'away' then
        out[#out + 1] = u
        out[#out + 1] = total
      end
    end
  end
  return out
end

-- Whether user k (its KEYS from index k + 1: unread, presence, mute,
-- devices) gets a push now (ms): a push device, conv not muted at now, no
-- device in the foreground (devices == 0 or state away). Cheapest test
-- first: most users without a device stop at EXISTS.
local function pushable(keys, k, conv, now)
  if redis.call('EXISTS', keys[k + 4]) == 0 then return false end
  if num(redis.call('HGET', keys[k + 3], conv)) > now then return false end
  local p = redis.call('HMGET', keys[k + 2], 'state', 'devices')
  return num(p[2]) == 0 or p[1] == 'away'
end

-- expand3: mqc2_expand for one event or a run of msg events of one
-- conversation that mqchat-push coalesced (store/jobs_expand.c): the
-- counters once, with the newest m; the push decisions per event are the
-- caller's, from what this returns. KEYS per user: unread, presence, mute,
-- devices. ARGV conv, m (the highest mc of the run), kind ("msg" |
-- "member"), now (ms), nreset, nread, then the users: the first nreset
-- joined or left with the (member) event (nothing of the conversation
-- unread up to m: c = r = m), the next nread sent messages of the run
-- (read up to their own, r = max(r, v), counted up to m), then the others
-- (msg: c = max(c, m); member: nothing counted); then the nread values v.
-- Reply: ok, then (user, unread total, r, c: the read and counted mc
-- before this call) per user who may get a push: pushable() and, for msg,
-- something unread before (r < m). The caller pushes event s of the run to
-- such a user as one job at a time would have: not when the user sent s,
-- nor (msg) when r, or the m of a message the user sent before s in the
-- run, is >= s's m; with the badge one job at a time would have given
-- (the total less what the run's later events added).
local function expand3(keys, args)
  local conv, m, kind, now = args[1], num(args[2]), args[3], num(args[4])
  local nreset, nread = num(args[5]), num(args[6])
  local nusers = #args - 6 - nread
  local out = {'ok'}
  for i = 1, nusers do
    local u, k = args[6 + i], (i - 1) * 4
    local total, r0, c0, _
    if i <= nreset then
      total, _, r0, c0 = unread_apply(keys[k + 1], conv, m, m)
    elseif i <= nreset + nread then
      total, _, r0, c0 = unread_apply(keys[k + 1], conv, kind == 'msg' and m or nil,
                                      num(args[6 + nusers + i - nreset]))
    elseif kind == 'msg' then
      total, _, r0, c0 = unread_apply(keys[k + 1], conv, m, nil, args[2])
    else
      total, _, r0, c0 = unread_apply(keys[k + 1], conv, nil, nil)
    end
    if not (kind == 'msg' and r0 >= m) and pushable(keys, k, conv, now) then
      out[#out + 1] = u
      out[#out + 1] = total
      out[#out + 1] = r0
      out[#out + 1] = c0
    end
  end
  return out
end

redis.register_function('mqc2_presence', presence)
redis.register_function('mqc2_devices', devices)
redis.register_function('mqc2_presence_reset', presence_reset)
redis.register_function{function_name = 'mqc2_user_lists', callback = user_lists,
                        flags = {'no-writes'}}
redis.register_function('mqc2_send', send)
redis.register_function('mqc2_relate', relate)
redis.register_function('mqc2_block_mark', block_mark)
redis.register_function{function_name = 'mqc1_blocked', callback = blocked, flags = {'no-writes'}}
redis.register_function('mqc2_receipt', receipt)
redis.register_function('mqc1_members', members)
redis.register_function('mqc3_create_direct', create_direct)
redis.register_function('mqc3_create_group', create_group)
redis.register_function('mqc3_change', change)
redis.register_function('mqc2_user_conv', user_conv)
redis.register_function{function_name = 'mqc2_conv_info', callback = conv_info,
                        flags = {'no-writes'}}
redis.register_function{function_name = 'mqc1_history', callback = history, flags = {'no-writes'}}

--[[
Device sessions (PROTOCOL.md "Device sessions"; core/session_token.h holds
the record format). One user's keys only (their hash tag), all in KEYS:
  P{u:U}:sess   HASH  device id -> "<hash>\t<created>\t<last_used>\t<expires>\t<label>"
Ending sessions tells every node to disconnect the devices that use them:
"skick * <user> <device | *>" on the bus channel given in ARGV (core/busmsg.h).
]]

local function sess_split(rec)
  return string.match(rec, '^([^\t]*)\t(%d+)\t(%d+)\t(%d+)\t(.*)$')
end

-- Expired records of one user's sessions are dropped whenever a session is
-- written, so the hash never grows past the devices in use.
local function sess_prune(key, now)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local _, _, _, exp = sess_split(all[i + 1])
    if not exp or tonumber(exp) <= now then redis.call('HDEL', key, all[i]) end
  end
end

-- KEYS: sess, user record. ARGV: device, hash, now, expires, label,
-- has_label (0/1), rotate (0/1), most sessions per user. A new device, or
-- (rotate) a new hash for a device that must still exist, keeping its
-- created time and, unless a new one is given, its label. Reply: ok; or
-- not_found (no such user, or the rotated session has ended); or forbidden
-- (a new device beyond the most sessions a user may hold).
local function sess_put(keys, args)
  local dev, hash, now, exp, label = args[1], args[2], tonumber(args[3]), args[4], args[5]
  if redis.call('EXISTS', keys[2]) == 0 then return {'not_found'} end
  local created = args[3]
  if args[7] == '1' then
    local old = redis.call('HGET', keys[1], dev)
    if not old then return {'not_found'} end
    local _, c, _, e, l = sess_split(old)
    if not c or tonumber(e) <= now then return {'not_found'} end
    created = c
    if args[6] ~= '1' then label = l end
  end
  sess_prune(keys[1], now)
  if args[7] ~= '1' and redis.call('HLEN', keys[1]) >= tonumber(args[8]) then
    return {'forbidden'}
  end
  redis.call('HSET', keys[1], dev, hash .. '\t' .. created .. '\t' .. args[3] .. '\t' .. exp ..
             '\t' .. label)
  return {'ok'}
end

-- KEYS: sess. ARGV: device, hash, now. Record that the session was used
-- (coarse: the broker calls it at most once an hour per session); only
-- while the record still holds that hash (never resurrects an ended one).
local function sess_touch(keys, args)
  local old = redis.call('HGET', keys[1], args[1])
  if not old then return {'ok'} end
  local h, c, _, e, l = sess_split(old)
  if h ~= args[2] then return {'ok'} end
  redis.call('HSET', keys[1], args[1], h .. '\t' .. c .. '\t' .. args[3] .. '\t' .. e .. '\t' .. l)
  return {'ok'}
end

-- KEYS: sess. ARGV: device ("" = every session), user, bus channel ("" on a
-- cluster: the caller SPUBLISHes the kick, store/bus.c). Reply: ok, sessions
-- ended.
local function sess_end(keys, args)
  local n
  if args[1] == '' then
    n = redis.call('HLEN', keys[1])
    redis.call('DEL', keys[1])
  else
    n = redis.call('HDEL', keys[1], args[1])
  end
  if n > 0 and args[3] ~= '' then
    redis.call('PUBLISH', args[3], 'skick * ' .. args[2] .. ' ' ..
               (args[1] == '' and '*' or args[1]))
  end
  return {'ok', n}
end

-- KEYS: user record, sess. ARGV: password hash, user, bus channel ("" on a
-- cluster: the caller SPUBLISHes the kick, store/bus.c). Set the password
-- and end every session. Reply: ok, 1 if sessions ended (else 0); or
-- not_found.
local function user_passwd(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return {'not_found'} end
  redis.call('HSET', keys[1], 'pw', args[1])
  local ended = redis.call('DEL', keys[2])
  if ended > 0 and args[3] ~= '' then
    redis.call('PUBLISH', args[3], 'skick * ' .. args[2] .. ' *')
  end
  return {'ok', ended}
end

-- KEYS: the secret key's key. ARGV: a fresh random key text. The key of the
-- session hashes when no plugin_opt_session_secret is set: the first broker
-- to ask creates it, every broker then uses the same one. Reply: the text.
local function sess_secret(keys, args)
  redis.call('SET', keys[1], args[1], 'NX')
  return redis.call('GET', keys[1])
end

redis.register_function('mqc1_sess_put', sess_put)
redis.register_function('mqc1_sess_touch', sess_touch)
redis.register_function('mqc1_sess_end', sess_end)
redis.register_function('mqc1_user_passwd', user_passwd)
redis.register_function('mqc1_sess_secret', sess_secret)
redis.register_function('mqc2_user_add', user_add)
redis.register_function('mqc2_user_ensure', user_ensure)
redis.register_function('mqc1_push_move', push_move)
redis.register_function('mqc1_push_drop_device', push_drop_device)
redis.register_function('mqc2_unread', unread)
redis.register_function{function_name = 'mqc2_recipients', callback = recipients,
                        flags = {'no-writes'}}
redis.register_function('mqc2_expand', expand)
redis.register_function('mqc3_expand', expand3)

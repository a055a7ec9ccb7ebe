-- bench/load/announce.lua: HTTP announces shaped like a libtorrent client's (qBittorrent), for wrk.
--
--   wrk -t1 -c64 -d20s --latency -s bench/load/announce.lua http://127.0.0.1:6969 -- torrents=10000 peers=25
--   luajit bench/load/announce.lua dump=hashes torrents=10000      # the info hashes, 40 hex chars a line
--
-- Options are key=value after wrk's "--" (or after the script name in dump mode); see bench/README.md.
--
-- Two kinds of randomness, kept apart on purpose:
--   * the pools (info hashes, torrent sizes, passkeys) and each peer's fixed traits (seeder or not, passkey,
--     peer_id) come from a stateless integer hash, so the dump mode run by a stand-alone luajit and every wrk
--     thread agree exactly, whatever the LuaJIT build, and pool N is the first N entries of any larger pool;
--   * the order of announces comes from math.random, seeded per thread, since it only has to be cheap.
-- Each wrk thread owns its own peers (torrents x peers of them), so nothing is shared between threads and
-- each peer's uploaded/downloaded/left can grow consistently from one announce to the next.

local bit = require("bit")
local ffi = require("ffi")

local bxor, rshift = bit.bxor, bit.rshift
local floor, min = math.floor, math.min
local char, byte, format = string.char, string.byte, string.format
local concat = table.concat

local TWO32 = 4294967296
local PORTS = 64511   -- peer ports 1025 .. 65535

------------------------------------------------------------------------ options
local DEFAULTS = {
    torrents = 10000,    -- torrent pool size
    offset = 0,          -- the torrents are pool entries offset+1 .. offset+torrents
    peers = 25,          -- peers per torrent owned by each wrk thread
    private = 0,         -- 1: announce to /<passkey>/announce
    passkeys = 1000,     -- passkey pool size (private=1)
    prefix = "",         -- path before /announce or /<passkey>/announce
    seeders = 0.7,       -- share of peers that are complete when they first start
    stop = 0.04,         -- chance that an active peer's next announce is event=stopped
    numwant = 50,
    fill = 0,            -- 1: start every owned peer once, in order; stop the thread once as many replies came back
    warm = 0,            -- 1: begin with every owned peer already started (after a fill run)
    close = 0,           -- 1: send Connection: close (one TCP connection per announce)
    check = 0,           -- 1: read every reply, count non-200 statuses and bencoded failures
    wrap = 0,            -- 1: allow threads x peers above 64,511: ports wrap, so later peers share earlier ones' ports
    seed = 1,            -- seed of the announce order (per thread: seed and thread number)
    poolseed = 7919,     -- seed of the pools; change it only together with what the tracker was seeded with
    ua = "qBittorrent/4.6.5",
    client = "-qB4650-", -- peer_id prefix, Azureus style, 8 characters
    dump = "",           -- stand-alone luajit only: hashes | hashes-url | passkeys
}

local function read_options(list)
    local o = {}
    for k, v in pairs(DEFAULTS) do o[k] = v end
    for _, item in ipairs(list or {}) do
        local k, v = tostring(item):match("^([%w_]+)=(.*)$")
        if not k or DEFAULTS[k] == nil then error("announce.lua: unknown option '" .. tostring(item) .. "'") end
        if type(DEFAULTS[k]) == "number" then
            v = tonumber(v) or error("announce.lua: option " .. k .. " takes a number")
        end
        o[k] = v
    end
    if #o.client ~= 8 then error("announce.lua: client must be 8 characters (it fills 8 of peer_id's 20 bytes)") end
    return o
end

------------------------------------------------------------------------ stateless hashing
-- (a * b) mod 2^32 for a, b in [0, 2^32): split a in 16-bit halves so every product stays exact in a double.
local function mul32(a, b)
    local hi, lo = floor(a / 65536), a % 65536
    return ((hi * b) % 65536 * 65536 + lo * b) % TWO32
end

-- A 32-bit avalanche mixer (xorshift-multiply, constants from Chris Wellons' hash prospector):
-- every output bit depends on every input bit, which is all a pool entry needs.
local function mix(x)
    x = bxor(x, rshift(x, 16)) % TWO32
    x = mul32(x, 0x7feb352d)
    x = bxor(x, rshift(x, 15)) % TWO32
    x = mul32(x, 0x846ca68b)
    return bxor(x, rshift(x, 16)) % TWO32
end

-- hash(a, b, c, d, e): one 32-bit word from up to five small integers, order-sensitive. Fixed arguments
-- rather than varargs, because LuaJIT compiles these calls and not a loop over select().
local function step(h, v)
    if v == nil then return h end
    return mix(bxor(h, v % TWO32) % TWO32)
end
local function hash(a, b, c, d, e)
    return step(step(step(step(step(0x2545f491, a), b), c), d), e)
end

-- the n-th trait of a peer whose base word is h: one mix instead of a whole hash() per trait
local function trait(h, n) return mix(bxor(h, n) % TWO32) end

-- [0, 1) from a hash word
local function unit(h) return h / TWO32 end

------------------------------------------------------------------------ pools
-- Real clients put the 20 raw bytes in the query, escaping everything but RFC 3986's unreserved characters.
local ESCAPED = {}
for b = 0, 255 do
    local c = char(b)
    ESCAPED[b] = c:find("^[%w%-%._~]$") and c or format("%%%02X", b)
end

-- salts keep the pools' hash streams apart
local SALT_HASH, SALT_SIZE, SALT_PASSKEY, SALT_PEER = 1, 2, 3, 4

local function info_hash(o, t)
    local raw = {}
    for w = 0, 4 do
        local word = hash(o.poolseed, SALT_HASH, t, w)
        for s = 3, 0, -1 do raw[#raw + 1] = char(floor(word / 256 ^ s) % 256) end
    end
    return concat(raw)
end

local function url_escape(s)
    local out = {}
    for i = 1, #s do out[i] = ESCAPED[byte(s, i)] end
    return concat(out)
end

local function to_hex(s)
    return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

local function passkey(o, u)
    local words = {}
    for w = 0, 3 do words[w + 1] = format("%08x", hash(o.poolseed, SALT_PASSKEY, u, w)) end
    return concat(words)
end

-- torrent sizes spread log-uniformly from 64 MiB to 16 GiB, so leechers' left values vary widely
local function torrent_size(o, t)
    return floor(2 ^ (26 + 8 * unit(hash(o.poolseed, SALT_SIZE, t))))
end

------------------------------------------------------------------------ dump mode (plain luajit)
if wrk == nil then
    local o = read_options(arg)
    local out = io.stdout
    if o.dump == "hashes" then
        for t = o.offset + 1, o.offset + o.torrents do out:write(to_hex(info_hash(o, t)), "\n") end
    elseif o.dump == "hashes-url" then
        for t = o.offset + 1, o.offset + o.torrents do out:write(url_escape(info_hash(o, t)), "\n") end
    elseif o.dump == "passkeys" then
        for u = 1, o.passkeys do out:write(passkey(o, u), "\n") end
    else
        io.stderr:write("usage: luajit announce.lua dump=hashes|hashes-url|passkeys [torrents=N] [offset=N] [passkeys=N] [poolseed=N]\n")
        os.exit(2)
    end
    return
end

------------------------------------------------------------------------ wrk: main state
local thread_list = {}

function setup(thread)
    thread_list[#thread_list + 1] = thread
    thread:set("thread_no", #thread_list)
end

------------------------------------------------------------------------ wrk: per-thread state
-- One C struct per owned peer: a Lua table per peer would cost several times the memory at a million peers.
ffi.cdef [[
typedef struct { double left, uploaded, downloaded; uint32_t base, user; uint8_t active, seeder, started_once; } bench_peer;
]]

local o, T, P, npeers, peers
local escaped_hash, sizes, announce_prefix
local head_tail, fill_next, id_port_of, key_of, query_tail, verify_call

-- what a leecher still needs when it first starts: 5 to 100 % of the torrent, fixed per peer
local function initial_left(k)
    local t = floor(k / P) + 1
    return floor(sizes[t] * (0.05 + 0.95 * unit(trait(peers[k].base, 3))))
end

local ALNUM = {}   -- digit value -> byte of [0-9A-Za-z]
for i, c in ipairs({ byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 1, 62) }) do ALNUM[i - 1] = c end

-- four base-62 digits of a hash word, as bytes (62^4 is far below 2^32, so the bias is negligible)
local function four_alnum(word)
    local a, b, c = word % 62, floor(word / 62) % 62, floor(word / 3844) % 62
    return ALNUM[a], ALNUM[b], ALNUM[c], ALNUM[floor(word / 238328) % 62]
end

-- A peer's fixed query parts: libtorrent fills the 12 bytes after the client prefix with random
-- alphanumerics and sends a random 8-hex-digit key, both kept for the client's life; the port is the
-- peer's own. Built once in init, which wrk runs before its clock starts, so the measured runs pay only
-- for the parts that change.
local function fixed_parts(k, h)
    local a1, a2, a3, a4 = four_alnum(trait(h, 4))
    local b1, b2, b3, b4 = four_alnum(trait(h, 5))
    local c1, c2, c3, c4 = four_alnum(trait(h, 6))
    local suffix = char(a1, a2, a3, a4, b1, b2, b3, b4, c1, c2, c3, c4)
    local id_port = "&peer_id=" .. o.client .. suffix .. "&port=" .. (1025 + ((thread_no - 1) * P + k % P) % PORTS)
    local key = "&corrupt=0&key=" .. format("%08X", trait(h, 7))
    return id_port, key
end

-- counters read by done() through thread:get, hence global
n_started, n_regular, n_completed, n_stopped = 0, 0, 0, 0
fill_done, fill_on, n_replies = 0, 0, 0

function init(args)
    o = read_options(args)
    thread_no = thread_no or 1
    T, P = o.torrents, o.peers
    npeers = T * P
    -- trackers that tell peers apart by address see only the port here (all load comes from 127.0.0.1)
    if o.wrap ~= 1 and thread_no * P > PORTS then
        error("announce.lua: threads x peers must stay within 64,511 (ports 1025-65535), or pass wrap=1")
    end

    math.randomseed(hash(o.seed, thread_no))
    escaped_hash, sizes = {}, {}
    for t = 1, T do
        escaped_hash[t] = url_escape(info_hash(o, t + o.offset))
        sizes[t] = torrent_size(o, t + o.offset)
    end

    -- the request line up to "info_hash=", per passkey
    announce_prefix = {}
    if o.private == 1 then
        for u = 1, o.passkeys do announce_prefix[u] = "GET " .. o.prefix .. "/" .. passkey(o, u) .. "/announce?info_hash=" end
    else
        announce_prefix[1] = "GET " .. o.prefix .. "/announce?info_hash="
    end

    query_tail = format("&numwant=%d&compact=1&no_peer_id=1&supportcrypto=1&redundant=0", o.numwant)
    local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
    head_tail = " HTTP/1.1\r\nHost: " .. host .. "\r\nUser-Agent: " .. o.ua .. "\r\nAccept-Encoding: gzip\r\n"
        .. (o.close == 1 and "Connection: close\r\n" or "") .. "\r\n"

    -- A peer's traits depend on the pool seed and its slot, not on `seed`, so a fill run and the warm runs
    -- after it agree on who is a seeder, how much a leecher still needs and which passkey (user) each peer uses.
    peers = ffi.new("bench_peer[?]", npeers)
    id_port_of, key_of = {}, {}
    for k = 0, npeers - 1 do
        local p, h = peers[k], hash(o.poolseed, SALT_PEER, thread_no, k)
        p.base = h
        p.seeder = unit(trait(h, 1)) < o.seeders and 1 or 0
        p.user = o.private == 1 and trait(h, 2) % o.passkeys + 1 or 1
        id_port_of[k], key_of[k] = fixed_parts(k, h)
        if o.warm == 1 then
            p.active, p.started_once = 1, 1
            p.left = p.seeder == 1 and 0 or initial_left(k)
        end
    end
    fill_on = o.fill
    fill_next = (o.fill == 1) and 0 or npeers
    -- wrk (4.x) calls request() once on its first thread before the run, to check what it returns, and never
    -- sends that request: it must not move a peer (a fill would otherwise skip its first peer)
    verify_call = thread_no == 1

    -- Replies are read only when something needs them: wrk parses headers and bodies for a response().
    local checking, filling = o.check == 1, o.fill == 1
    if checking then n_non200, n_failure, failure_sample = 0, 0, "" end
    if checking or filling then
        response = function(status, _, body)
            if checking then
                if status ~= 200 then n_non200 = n_non200 + 1 end
                if body and body:find("failure reason", 1, true) then
                    n_failure = n_failure + 1
                    if failure_sample == "" then failure_sample = body:sub(1, 160) end
                end
            end
            n_replies = n_replies + 1
            -- The fill's starts are the first npeers requests. Once as many replies came back, the thread
            -- stops. At most one request per connection is still in flight then, and wrk drops a request it
            -- wrote into a socket the server had just closed (opentracker closes after every reply), so a
            -- few starts of a million may never reach the tracker: count what it holds (scrape) where that
            -- matters. wrk itself ends at -d or on SIGINT; FILLED tells a caller it may send that.
            if filling and fill_done == 0 and n_replies >= npeers then
                fill_done = 1
                io.write(format("FILLED thread=%d peers=%d\n", thread_no, npeers))
                io.stdout:flush()
                wrk.thread:stop()
            end
        end
    end
end

-- Moves peer k one announce forward and returns the event to send ("" for a regular announce).
local function advance(k, forced_start)
    local p = peers[k]
    if forced_start or p.active == 0 then
        -- a (re)start opens a new session: clients report totals since their own start
        p.active, p.uploaded, p.downloaded = 1, 0, 0
        if p.started_once == 0 then
            p.started_once = 1
            p.left = p.seeder == 1 and 0 or initial_left(k)
        end
        n_started = n_started + 1
        return "started"
    end
    if math.random() < o.stop then
        p.active = 0
        n_stopped = n_stopped + 1
        return "stopped"
    end
    -- a regular announce: some peers uploaded nothing since the last one; leechers also download
    if math.random() > 0.3 then p.uploaded = p.uploaded + math.random(1, 128) * 131072 end
    if p.left > 0 then
        local got = min(p.left, math.random(1, 192) * 131072)
        p.downloaded, p.left = p.downloaded + got, p.left - got
        if p.left == 0 then
            n_completed = n_completed + 1
            return "completed"
        end
    end
    n_regular = n_regular + 1
    return ""
end

local parts = {}

function request()
    if verify_call then
        verify_call = false
        return wrk.format("GET", "/")
    end
    local k, event
    if fill_next < npeers then
        -- fill: every owned peer starts once, in slot order, so the tracker ends up holding all of them
        k = fill_next
        fill_next = fill_next + 1
        -- the few announces sent while the last starts are answered must not stop peers the fill started
        if fill_next == npeers then o.stop = 0 end
        event = advance(k, true)
    else
        k = math.random(0, npeers - 1)
        event = advance(k, false)
    end
    local p = peers[k]
    -- libtorrent's parameter order; byte counts as plain integers, never in exponent notation
    parts[1] = announce_prefix[p.user]
    parts[2] = escaped_hash[floor(k / P) + 1]
    parts[3] = id_port_of[k]
    parts[4] = format("&uploaded=%.0f&downloaded=%.0f&left=%.0f", p.uploaded, p.downloaded, p.left)
    parts[5] = key_of[k]
    parts[6] = event ~= "" and ("&event=" .. event) or ""
    parts[7] = query_tail
    parts[8] = head_tail
    return concat(parts)
end

------------------------------------------------------------------------ wrk: report (main state)
function done(summary, latency, _)
    local sum = { started = 0, regular = 0, completed = 0, stopped = 0, non200 = 0, failure = 0, filled = 0 }
    local sample, checked, filling = "", false, false
    for _, th in ipairs(thread_list) do
        sum.started = sum.started + th:get("n_started")
        sum.regular = sum.regular + th:get("n_regular")
        sum.completed = sum.completed + th:get("n_completed")
        sum.stopped = sum.stopped + th:get("n_stopped")
        sum.filled = sum.filled + th:get("fill_done")
        filling = filling or th:get("fill_on") == 1
        local non200 = th:get("n_non200")
        if non200 then
            checked = true
            sum.non200 = sum.non200 + non200
            sum.failure = sum.failure + th:get("n_failure")
            if sample == "" then sample = th:get("failure_sample") end
        end
    end
    local e = summary.errors
    local seconds = summary.duration / 1e6
    io.write(format("RESULT rps=%.0f requests=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d "
        .. "connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d\n",
        summary.requests / seconds, summary.requests, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
    -- built, not answered: requests still in flight when wrk stopped are counted too
    io.write(format("EVENTS started=%d regular=%d completed=%d stopped=%d\n",
        sum.started, sum.regular, sum.completed, sum.stopped))
    if checked then
        io.write(format("CHECK failure_reason=%d non200=%d%s\n", sum.failure, sum.non200,
            sample ~= "" and (" sample=" .. format("%q", sample)) or ""))
    end
    if filling then
        io.write(format("FILL threads_done=%d threads=%d\n", sum.filled, #thread_list))
    end
end

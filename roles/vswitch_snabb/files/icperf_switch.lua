-- icperf's Snabb switch: one vhost-user server port per container, joined by a learning
-- bridge (program "learning", the thesis' configuration) or patched in pairs (program
-- "wire": each port's frames go straight to its partner's port).
--
--   snabb snsh icperf_switch.lua CONFIG.json
--
-- CONFIG.json is written by the vswitch_snabb role (icperf.lab.snabb_config):
--   {"program": "learning" | "wire", "cpu": N, "counters": PATH,
--    "ports": [{"app": "c0", "name": CONTAINER, "sock": PATH}, ...],
--    "wires": [["c0", "c1"], ...]}
-- The switch runs until SIGTERM or SIGINT, then writes every link's counters to
-- "counters" as JSON and exits with status 0.

local S = require("syscall")
local json = require("lib.json")
local numa = require("lib.numa")
local counter = require("core.counter")
local link = require("core.link")
local vhost_user = require("apps.vhost.vhost_user")

-- The learning bridge floods a frame by transmitting it to the first port and clones of
-- it to the others; a full link frees a frame it drops, so when the first port's link is
-- full (a sender's port: senders never read their receive ring) the clones are copies of
-- freed memory and the other ports get garbage. The bridge module keeps the link.transmit
-- it finds when loaded: it gets one that drops like link.transmit but frees the dropped
-- frames only at the end of the bridge's push, after the clones were made.
local plain_transmit = link.transmit
local dropped, ndropped = {}, 0
local function transmit_freeing_later (r, p)
   if link.full(r) then
      counter.add(r.stats.txdrop)
      ndropped = ndropped + 1
      dropped[ndropped] = p
   else
      plain_transmit(r, p)
   end
end
assert(not package.loaded["apps.bridge.learning"], "apps.bridge.learning loaded too early")
link.transmit = transmit_freeing_later
local learning = require("apps.bridge.learning")
link.transmit = plain_transmit
local bridge_push = learning.bridge.push
function learning.bridge:push ()
   bridge_push(self)
   for i = 1, ndropped do
      packet.free(dropped[i])
      dropped[i] = nil
   end
   ndropped = 0
end

local function die (fmt, ...)
   io.stderr:write(("icperf_switch: " .. fmt .. "\n"):format(...))
   os.exit(2)
end

local config_path = main.parameters[1]
if not config_path then die("usage: snabb snsh icperf_switch.lua CONFIG.json") end
local file = io.open(config_path) or die("cannot read %s", config_path)
local conf = json.decode(file:read("*a"))
file:close()
if #conf.ports == 0 then die("%s: no ports", config_path) end

-- Signals are read from a descriptor between breaths, so that the engine stops cleanly
-- and the counters below are written (Snabb's own handling would end the process).
S.sigprocmask("block", "term,int")
local signals = assert(S.signalfd("term,int", "nonblock"))

if conf.cpu then numa.bind_to_cpu(conf.cpu, true) end

local c = config.new()
for _, port in ipairs(conf.ports) do
   -- Snabb offers no VIRTIO_F_VERSION_1, so DPDK's virtio_user ports treat it as a legacy
   -- device and never send SET_FEATURES: mergeable buffers and indirect descriptors,
   -- which DPDK would use, are left out of what is offered.
   config.app(c, port.app, vhost_user.VhostUser,
              {socket_path = port.sock, is_server = true,
               disable_mrg_rxbuf = true, disable_indirect_desc = true})
end
if conf.program == "learning" then
   local names = {}
   for _, port in ipairs(conf.ports) do table.insert(names, port.app) end
   config.app(c, "bridge", learning.bridge, {ports = names})
   for _, port in ipairs(conf.ports) do
      config.link(c, port.app .. ".tx -> bridge." .. port.app)
      config.link(c, "bridge." .. port.app .. " -> " .. port.app .. ".rx")
   end
elseif conf.program == "wire" then
   for _, pair in ipairs(conf.wires) do
      config.link(c, pair[1] .. ".tx -> " .. pair[2] .. ".rx")
      config.link(c, pair[2] .. ".tx -> " .. pair[1] .. ".rx")
   end
else
   die("%s: unknown program %s", config_path, tostring(conf.program))
end
engine.configure(c)

for _, port in ipairs(conf.ports) do
   local app = engine.app_table[port.app]
   -- With no SET_FEATURES from the client the device's features stay unset, and the
   -- first frame would crash the port: start from none.
   app.dev:set_features(0)
   -- Snabb's listening socket blocks in accept(): the whole engine would wait for the
   -- last container to connect.
   local flags = assert(S.fcntl(app.listen_socket, "getfl"))
   assert(S.fcntl(app.listen_socket, "setfl", bit.bor(flags, S.c.O.NONBLOCK)))
end

print(("icperf_switch: %s program, %d ports, listening"):format(conf.program, #conf.ports))
io.stdout:flush()

local function stop_requested ()
   return #S.util.signalfd_read(signals) > 0
end
engine.main({done = stop_requested, report = {showlinks = true}})

-- Every link's counters: in a learning switch "c0.tx -> bridge.c0" carries what port c0's
-- container sent and "bridge.c1 -> c1.rx" what was sent towards c1's container
-- (rxpackets: taken into its ring; txdrop: dropped because the link was full).
counter.commit()
local names = {}
for name in pairs(engine.link_table) do table.insert(names, name) end
table.sort(names)
local out = assert(io.open(conf.counters .. ".tmp", "w"))
out:write(('{"program": "%s", "links": {'):format(conf.program))
for i, name in ipairs(names) do
   local stats = engine.link_table[name].stats
   out:write(('%s"%s": {"txpackets": %d, "txdrop": %d, "rxpackets": %d, "txbytes": %d}')
             :format(i > 1 and ", " or "", name,
                     tonumber(counter.read(stats.txpackets)), tonumber(counter.read(stats.txdrop)),
                     tonumber(counter.read(stats.rxpackets)), tonumber(counter.read(stats.txbytes))))
end
out:write("}, \"ports\": {")
for i, port in ipairs(conf.ports) do
   out:write(('%s"%s": {"name": "%s", "sock": "%s"}')
             :format(i > 1 and ", " or "", port.app, port.name, port.sock))
end
out:write("}}\n")
out:close()
assert(os.rename(conf.counters .. ".tmp", conf.counters))
print("icperf_switch: stopped, counters in " .. conf.counters)

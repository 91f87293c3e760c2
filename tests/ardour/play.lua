-- Plays a session from its start in real time on Ardour's dummy backend and records what the
-- master bus puts out on a new track, as a person would capture a playback.
--
-- Usage: ardour7-lua play.lua DIR NAME SECONDS
local dir, name, seconds = arg[1], arg[2], tonumber(arg[3])
local s = load_session(dir, name)
assert(s, "could not load the session")

local tracks = s:new_audio_track(2, 2, nil, 1, "Capture", ARDOUR.PresentationInfo.max_order,
  ARDOUR.TrackMode.Normal, true)
local capture = tracks:front()
capture:input():disconnect_all(nil)
capture:output():disconnect_all(nil)
local master = s:master_out():output()
for i = 0, 1 do
  assert(capture:input():audio(i):connect(master:audio(i):name()) == 0, "could not connect")
end
capture:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
s:maybe_enable_record(false)
s:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop,
  ARDOUR.TransportRequestSource.TRS_UI)
sleep(1)
s:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
sleep(seconds)
s:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep(2)
s:save_state("", false, false, false, false, false)
close_session()
print("played", seconds)

-- Builds an Ardour session headless: a stereo audio track with Orator on it, or (`midi`) a
-- MIDI track with Orator as its first plugin. Every automatable switch the tests
-- drive (Speak, Phrase, Trigger) gets an automation list in Play, with one placeholder
-- event; the test writes the real events, the text and the session range into the XML.
-- A second, mono audio track ("Marker") feeds the master bus too: the test puts a region
-- with one click on it after the range it checks, to see where Ardour's own audio lands.
--
-- Usage: ardour7-lua make_session.lua DIR NAME RATE [midi]
local dir, name, rate, midi = arg[1], arg[2], tonumber(arg[3]), arg[4] == "midi"
local s = create_session(dir, name, rate)
assert(s, "could not create the session")

local track
if midi then
  -- Orator on a MIDI track: the track's notes reach Orator's note input, its audio outputs
  -- feed the track's outputs.
  local tracks = s:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1),
    ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2), false, ARDOUR.PluginInfo(), nil, nil, 1,
    "Voice", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
  track = tracks:front()
else
  local tracks = s:new_audio_track(2, 2, nil, 1, "Voice", ARDOUR.PresentationInfo.max_order,
    ARDOUR.TrackMode.Normal, true)
  track = tracks:front()
end
local orator = ARDOUR.LuaAPI.new_plugin(s, "Orator", ARDOUR.PluginType.VST3, "")
assert(not orator:isnil(), "Orator (VST3) is not in Ardour's plugin list")
assert(track:add_processor_by_index(orator, 0, nil, true) == 0, "could not add Orator")

local insert = orator:to_plugininsert()
local plugin = insert:plugin(0)
for i = 0, plugin:parameter_count() - 1 do
  local label = plugin:parameter_label(i)
  if label == "Speak" or label == "Phrase" or label == "Trigger" then
    local control = insert:to_automatable():automation_control(
      Evoral.Parameter(ARDOUR.AutomationType.PluginAutomation, 0, i), true)
    control:alist():add(Temporal.timepos_t(0), 0, false, true)
    control:set_automation_state(ARDOUR.AutoState.Play)
    print("automation", label, i)
  end
end

-- Ardour connects a new track's outputs to the master bus on its own time; a session saved
-- before that happens renders silence, so connect them here.
local outputs = track:output()
local master = s:master_out():input()
for i = 0, 1 do
  local port = outputs:audio(i)
  if not port:connected_to(master:audio(i):name()) then
    assert(port:connect(master:audio(i):name()) == 0, "could not connect the track to the master bus")
  end
end

-- The marker track, centred on the master bus.
local marker = s:new_audio_track(1, 2, nil, 1, "Marker", ARDOUR.PresentationInfo.max_order,
  ARDOUR.TrackMode.Normal, true):front()
marker:input():disconnect_all(nil)
for i = 0, 1 do
  local port = marker:output():audio(i)
  if not port:connected_to(master:audio(i):name()) then
    assert(port:connect(master:audio(i):name()) == 0, "could not connect the marker track")
  end
end

s:save_state("", false, false, false, false, false)
close_session()

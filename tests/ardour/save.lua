-- Opens a session and saves it again and again while Orator, just loaded, renders its
-- phrases on its speech thread (they start half a second after the text arrives and take
-- about a second): a producer pressing Save while the project is still getting ready.
--
-- Usage: ardour7-lua save.lua DIR NAME SECONDS
local dir, name, seconds = arg[1], arg[2], tonumber(arg[3])
local s = load_session(dir, name)
assert(s, "could not load the session")

local start = ARDOUR.LuaAPI.monotonic_time()
local saves = 0
while ARDOUR.LuaAPI.monotonic_time() - start < seconds * 1e6 do
  assert(s:save_state("", false, false, false, false, false) == 0, "could not save")
  saves = saves + 1
  sleep(0.05)
end
close_session()
print("saved", saves)

-- A client_credentials token request with client_secret_basic, for compare.sh.
-- Env: WRK_BASIC (base64 of client_id:client_secret), WRK_SCOPE (api:read).
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic " .. os.getenv("WRK_BASIC")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&scope=" .. (os.getenv("WRK_SCOPE") or "api:read")

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "wrk-report.lua")

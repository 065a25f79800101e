-- Scenario 3: POST a 16 KiB JSON body (bench/run writes it and passes its path in BENCH_POST_BODY).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local file = assert(io.open(os.getenv("BENCH_POST_BODY"), "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.path = "/rest/v1.0/rfis?project_id=42"
wrk.body = body
wrk.headers["Origin"] = bench.origin
wrk.headers["Authorization"] = bench.token
wrk.headers["Procore-Company-Id"] = "8"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

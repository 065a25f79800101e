-- Scenarios 1 and 5: GET a page of the JSON list, as a browser SPA using a bearer token does.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/rest/v1.0/projects?company_id=8&page=1&per_page=10"
wrk.headers["Origin"] = bench.origin
wrk.headers["Authorization"] = bench.token
wrk.headers["Procore-Company-Id"] = "8"
wrk.headers["Accept"] = "application/json"
wrk.headers["Referer"] = bench.origin .. "/projects"

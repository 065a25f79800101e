-- Scenario 2: the preflight a browser sends before a POST with Authorization and a JSON body.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "OPTIONS"
wrk.path = "/rest/v1.0/rfis?project_id=42"
wrk.headers["Origin"] = bench.origin
wrk.headers["Access-Control-Request-Method"] = "POST"
wrk.headers["Access-Control-Request-Headers"] = "authorization,content-type,procore-company-id"
wrk.headers["Referer"] = bench.origin .. "/projects"

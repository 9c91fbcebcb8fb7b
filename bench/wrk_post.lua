-- wrk script for http_benchmark --serve: a small KServe-shaped JSON POST.
--   wrk -t2 -c32 -d5s -s bench/wrk_post.lua http://127.0.0.1:8080/v2/models/m/infer
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1.0]}]}'

# Sourced by the agent benchmarks: one agent at a time, on a free port.
# Uses $models_dir and $dir (the benchmark's scratch folder); sets agent_pid
# and url.

# start_agent BINARY CONFIG MODEL...: starts the agent in the background, its
# output in $dir/agent.log.
start_agent() {
  local bin=$1 config=$2
  shift 2
  "$bin" agent --listen 127.0.0.1:0 --models-dir "$models_dir" --config "$config" \
    --no-opencl --models "$@" >"$dir/agent.log" 2>&1 &
  agent_pid=$!
  url=
}

# wait_ready TRIES POLL_SECONDS: until the agent reports ready (url set), or
# prints its log and fails.
wait_ready() {
  local tries=$1 poll=$2
  for _ in $(seq "$tries"); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$dir/agent.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$url" ] && curl -sf "$url/v2/health/ready" >/dev/null 2>&1 && return 0
    url=
    sleep "$poll"
  done
  cat "$dir/agent.log" >&2
  return 1
}

# stop_agent: stops it and waits for it to exit.
stop_agent() {
  kill "$agent_pid" 2>/dev/null || true
  wait "$agent_pid" 2>/dev/null || true
  agent_pid=
}

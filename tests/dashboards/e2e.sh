#!/usr/bin/env bash
# dash-e2e: poold (fragmenting workload) and a real Prometheus, both on free
# loopback ports with temporary storage; Prometheus scrapes poold every second
# with the shipped job and rules; then every panel query of every dashboard and
# every alert rule runs through Prometheus's HTTP API (e2e_queries.py). For the
# processes dashboard, a python3 on the preload shim publishes its statistics
# (POOLMALLOC_EXPORT) into a private directory poold's process collector reads.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
POOLD=$BUILD/poold

tmp=$(mktemp -d /tmp/poold-dash-e2e.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS PID: until URL answers 2xx, or PID dies.
wait_http() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

if [[ ! -x $POOLD ]]; then
  make --no-print-directory "$POOLD" >"$tmp/make.log" 2>&1
fi
if [[ ! -x $POOLD ]]; then
  skip "end-to-end dashboard queries" "$POOLD does not exist and could not be built (make $POOLD: $(tail -1 "$tmp/make.log"))"
  done_testing; exit
fi
prometheus=$(command -v prometheus || echo /usr/bin/prometheus)
if [[ ! -x $prometheus ]]; then
  ok 1 "prometheus is installed (Debian package prometheus: scripts/deps.sh test)"
  done_testing; exit
fi

# ---- a process on the shim, for the process collector ------------------------
shim=$(realpath "$BUILD/libpoolmalloc.so" 2>/dev/null)
mkdir -p "$tmp/shm"
exporter=
if [[ -n $shim ]] && ! ldd "$shim" | grep -Eq 'lib(asan|tsan|ubsan)' && [[ -x /usr/bin/python3 ]]; then
  PYTHONMALLOC=malloc POOLMALLOC_EXPORT=$tmp/shm POOLMALLOC_EXPORT_INTERVAL=500 LD_PRELOAD=$shim \
    /usr/bin/python3 -c '
import time
x, y = [], {}
for i in range(100000):
    x.append(str(i) * (i % 40))
    if i % 1000 == 0:
        y = {j: [j] for j in range(i % 5000)}
        time.sleep(0.05)
time.sleep(3600)' &
  exporter=$!
fi
# ... and one on CPython's own pymalloc, exporting it with poold_pymalloc
pyexporter=
if [[ -n $exporter ]] && ls "$BUILD"/python/poold_pymalloc/_native*.so >/dev/null 2>&1; then
  printf 'import time\nx = [{"i": i, "s": str(i) * (i %% 30)} for i in range(200000)]\ntime.sleep(3600)\n' \
    > "$tmp/pymalloc_prog.py"
  PYTHONPATH=$PWD/$BUILD/python /usr/bin/python3 -m poold_pymalloc --dir "$tmp/shm" --interval 0.5 \
    "$tmp/pymalloc_prog.py" &
  pyexporter=$!
fi

# ---- poold ------------------------------------------------------------------
# A port found free can be taken before poold binds it: try a few.
served=1
for attempt in 1 2 3; do
  pport=$(free_port)
  "$POOLD" --web.listen-address="127.0.0.1:$pport" --workload=fragmenter \
    --workload.threads=2 --workload.max-bytes=$((64 << 20)) \
    --collector.processes --collector.processes.dir="$tmp/shm" >"$tmp/poold.log" 2>&1 &
  pids=($! $exporter $pyexporter)
  wait_http "http://127.0.0.1:$pport/metrics" 20 "${pids[0]}" && { served=0; break; }
  kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null
done
pids=("${pids[0]}")
[[ -n $exporter ]] && pids+=("$exporter")
[[ -n $pyexporter ]] && pids+=("$pyexporter")
if [[ -n $exporter ]] && wait_http "http://127.0.0.1:$pport/metrics" 1 "${pids[0]}" &&
   for i in $(seq 1 50); do curl -s "http://127.0.0.1:$pport/metrics" | grep -q "^poold_process_info{pid=\"$exporter\"" && break; sleep 0.2; done; then
  curl -s "http://127.0.0.1:$pport/metrics" | grep -q "^poold_process_info{pid=\"$exporter\""
  ok $? "poold exports python3 ($exporter), running on the shim with POOLMALLOC_EXPORT"
else
  skip "a process on the shim for the processes dashboard" "the shim is missing or built with a sanitizer, or no /usr/bin/python3"
fi
if [[ -n $pyexporter ]]; then
  for i in $(seq 1 50); do curl -s "http://127.0.0.1:$pport/metrics" | grep -q "^poold_process_info{pid=\"$pyexporter\".*allocator=\"pymalloc\"" && break; sleep 0.2; done
  curl -s "http://127.0.0.1:$pport/metrics" | grep -q "^poold_process_info{pid=\"$pyexporter\".*allocator=\"pymalloc\""
  ok $? "poold exports python3 ($pyexporter) on CPython's pymalloc, through poold_pymalloc"
fi
ok $served "poold serves /metrics on 127.0.0.1:$pport (--workload=fragmenter)"
if [[ $served -ne 0 ]]; then
  tail -20 "$tmp/poold.log" | sed 's/^/#   /'
  done_testing; exit
fi

# ---- Prometheus, configured from the shipped example -----------------------
qport=$(free_port)
job=$(python3 - "$tmp/prometheus.yml" "127.0.0.1:$pport" <<'EOF'
# The shipped config with a 1 s interval, this poold as the only target and
# the rules files by absolute path; prints the job name.
import glob, os, sys, yaml
out, target = sys.argv[1:3]
with open("dashboards/prometheus.yml") as f:
    cfg = yaml.safe_load(f)
cfg["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
cfg["rule_files"] = [os.path.abspath(os.path.join("dashboards", r)) for r in cfg.get("rule_files", [])]
cfg.pop("alerting", None)
job = next(s for s in cfg["scrape_configs"] if s.get("job_name") == "poold")
job["static_configs"] = [{"targets": [target]}]
cfg["scrape_configs"] = [job]
with open(out, "w") as f:
    yaml.safe_dump(cfg, f)
print(job["job_name"])
EOF
)
check "the generated Prometheus config passes promtool" promtool check config "$tmp/prometheus.yml"
"$prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$qport" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$qport/-/ready" 60 "${pids[-1]}"
if ! ok $? "Prometheus is ready on 127.0.0.1:$qport"; then
  tail -20 "$tmp/prometheus.log" | sed 's/^/#   /'
  done_testing; exit
fi

# ---- every panel query and every rule ---------------------------------------
python3 tests/dashboards/e2e_queries.py "http://127.0.0.1:$qport" \
  "http://127.0.0.1:$pport" "$job" "127.0.0.1:$pport" ${exporter:+python3 "$exporter"} ${pyexporter:+python3 "$pyexporter"} >"$tmp/queries.out" 2>&1
status=$?
while IFS=$'\t' read -r verdict what details; do
  case "$verdict" in
    PASS) ok 0 "$what" ;;
    FAIL) ok 1 "$what"; [[ -n "$details" ]] && diag "  $details" ;;
    \#*)  echo "$verdict" ;;
  esac
done <"$tmp/queries.out"
ok $status "e2e_queries.py ran to the end"
[[ $status -ne 0 ]] && tail -15 "$tmp/queries.out" | sed 's/^/#   /'

kill -0 "${pids[0]}" 2>/dev/null
ok $? "poold is still running after the queries"
done_testing

#!/usr/bin/env bash
# page-browser: poold's live page in headless chromium, driven over the
# DevTools protocol (tests/page/check.py, tests/page/cdp.py): poold's own
# view under the fragmenter (no console error, no request leaving poold, the
# data-stat figures against /stats, the drawn map against /stats/arenas, a
# screenshot with the states' colours, a second look that moved, the
# process selector), the view of a python3 on the shim, an idle poold, a
# process with thousands of arenas, and the page over TLS with basic auth.
# Then, without a browser: the page without JavaScript, the assets, the
# policy, gzip, the JSON endpoints and their errors, the size budget.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/observe/lib.sh
source tests/page/lib.sh
PY=/usr/bin/python3
SHOT=$BUILD/page/poold-page.png
mkdir -p "$BUILD/page" "$TMP/shm"

if [[ ! -x /usr/bin/chromium ]] || ! $PY -c 'import websocket' 2>/dev/null; then
  skip "the live page in a browser" "chromium or python3-websocket is missing (scripts/deps.sh test)"
  done_testing; exit 0
fi

# check.py's lines -> TAP
browser() {
  local line status what why
  while IFS=$'\t' read -r status what why; do
    case $status in
      PASS) ok 0 "$what" ;;
      FAIL) ok 1 "$what"; diag "$why" ;;
      *) diag "$status $what $why" ;;
    esac
  done < <(cd tests/page && PYTHONDONTWRITEBYTECODE=1 timeout 90 "$PY" check.py "$@" 2>&1)
}

# ---- without a browser -------------------------------------------------------------------------
start_poold --workload=fragmenter --workload.rate=2000 --collector.processes \
  --collector.processes.dir="$TMP/shm"
html=$(curl -sf "$POOLD_URL/")
n=$(grep -c 'data-stat="' <<<"$html")
[[ $n -ge 9 ]] && grep -q 'data-stat="allocator.arenas.current"' <<<"$html" &&
  grep -Eq '<td data-stat="allocator.arenas.mapped_bytes"[^>]*>[0-9.]+ [KMG]?i?B</td>' <<<"$html"
ok $? "GET / without JavaScript: a plain table of $n headline figures with their values"
! grep -Eqi '<script>|<style>| style="| on[a-z]+="' <<<"$html"
ok $? "no inline script, style or event handler in the HTML"
hdr=$(curl -sfI "$POOLD_URL/")
grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" <<<"$hdr"
ok $? "GET / has a strict Content-Security-Policy"
for a in app.js:text/javascript app.css:text/css favicon.svg:image/svg+xml; do
  t=$(curl -sf -o /dev/null -w '%{content_type}' "$POOLD_URL/${a%%:*}")
  [[ $t == ${a#*:}* ]]; ok $? "GET /${a%%:*}: $t"
done
size=$(for f in / /app.js /app.css /favicon.svg; do curl -sf "$POOLD_URL$f"; done | wc -c)
gz=$(for f in / /app.js /app.css /favicon.svg; do curl -sf -H 'Accept-Encoding: gzip' "$POOLD_URL$f"; done | wc -c)
[[ $size -le 102400 && $gz -lt $size ]]; ok $? "the page is $size bytes (at most 100 KiB), $gz gzipped"
curl -sf -H 'Accept-Encoding: gzip' "$POOLD_URL/app.js" | gzip -dc | cmp -s - <(curl -sf "$POOLD_URL/app.js")
ok $? "app.js gzipped when accepted decompresses to the same file"
curl -sf "$POOLD_URL/stats/map?limit=2&order=fullest" >"$TMP/map.json"
$PY - "$TMP/map.json" <<'PYX'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["order"] == "fullest" and m["pools_per_arena"] == 64 and len(m["arenas"]) == min(2, m["total"])
for addr, pools in m["arenas"]:
    n, i = 0, 0
    while i < len(pools):
        run = ""
        while pools[i].isdigit():
            run += pools[i]
            i += 1
        i += 7 if pools[i] == "u" else 1
        n += int(run or 1)
    assert n == 64 and pools[0] == "h", (addr, pools)
PYX
ok $? "/stats/map?order=fullest&limit=2: two arenas of 64 pools each, header first"
for q in 'offset=-1' 'limit=x' 'order=random'; do
  c=$(curl -s -o /dev/null -w '%{http_code}' "$POOLD_URL/stats/map?$q")
  [[ $c == 400 ]]; ok $? "/stats/map?$q: 400"
done
for p in /process/1/stats /process/abc /process/ /process/0012/map "/process/$$/nothing"; do
  c=$(curl -s -o /dev/null -w '%{http_code}' "$POOLD_URL$p")
  [[ $c == 404 ]]; ok $? "$p: 404"
done

# ---- poold's own view, with a python3 on the shim exported ------------------------------------
cat >"$TMP/hold.py" <<'PY'
import time
x = [str(i) * 3 for i in range(200000)]
time.sleep(120)
PY
PYTHONMALLOC=malloc POOLMALLOC_EXPORT=$TMP/shm POOLMALLOC_EXPORT_INTERVAL=200 LD_PRELOAD=$SHIM \
  /usr/bin/python3 "$TMP/hold.py" & PYPID=$!
TEST_PIDS+=("$PYPID")
wait_for "curl -sf $POOLD_URL/process/$PYPID/stats >/dev/null" 15
ok $? "a python3 on the shim (pid $PYPID) is exported"
sleep 1   # let the fragmenter build a heap worth drawing
browser own "$POOLD_URL" "$PWD/$SHOT" "$PYPID"
browser process "$POOLD_URL" "$PYPID"
s=$(curl -sf "$POOLD_URL/process/$PYPID/stats")
$PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["pid"] == int(sys.argv[2]) and d["allocator"]["arenas"]["current"] > 0 and "resident_memory_bytes" in d["process"]' "$s" "$PYPID"
ok $? "/process/$PYPID/stats: the process's figures and its RSS"

# ---- a process with thousands of arenas (a consistent segment scaled from a real one) -------------
large_process 300 "$TMP/shm"
wait_for "curl -sf $POOLD_URL/process/$BIG/stats >/dev/null" 5
ok $? "a process with $(( 11 * 300 )) arenas is exported"
browser large "$POOLD_URL" "$BIG"
stop_poold

# ---- an idle poold ---------------------------------------------------------------------------------
start_poold --workload=idle
browser idle "$POOLD_URL"
stop_poold

# ---- TLS and basic auth -------------------------------------------------------------------------------
if command -v openssl >/dev/null && command -v htpasswd >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
  printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  ann: %s\n' \
    "$(htpasswd -nbB -C 5 ann pw | cut -d: -f2-)" >"$TMP/web.yml"
  start_poold --workload=steady --web.config.file="$TMP/web.yml"
  url=${POOLD_URL/http:/https:}
  c=$(curl -sk -o /dev/null -w '%{http_code}' "$url/app.js")
  [[ $c == 401 ]]; ok $? "behind basic auth the assets need credentials too ($c)"
  browser auth "$url" ann:pw
  stop_poold
else
  skip "the page over TLS with basic auth" "openssl or htpasswd is missing"
fi
done_testing

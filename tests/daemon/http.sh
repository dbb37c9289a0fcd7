#!/usr/bin/env bash
# daemon-http: every endpoint, status code and header of poold's HTTP side.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh

start_poold --workload=steady --workload.rate=20000
ok $? "poold starts on a free loopback port" || { done_testing; exit 1; }
U=$POOLD_URL

# code METHOD PATH [curl args]: the status code only
code() { local m=$1 p=$2; shift 2; curl -s -o /dev/null -w '%{http_code}' -X "$m" --max-time 10 "$@" "$U$p"; }
# header NAME: a header's value from headers on stdin
header() { tr -d '\r' | awk -v h="$(echo "$1" | tr A-Z a-z)" 'BEGIN{FS=": "} tolower($1) == h { print $2; exit }'; }

# ---- pages and status codes ------------------------------------------------
for p in / /metrics /stats /stats/arenas /healthz; do
  ok $([[ $(code GET $p) == 200 ]]; echo $?) "GET $p is 200"
  ok $([[ $(code HEAD $p -I) == 200 ]]; echo $?) "HEAD $p is 200"
done
for p in /nope /metrics/ /metricsx /stats/ "/%2e%2e/etc/passwd" /favicon.ico; do
  ok $([[ $(code GET "$p") == 404 ]]; echo $?) "GET $p is 404"
done
for m in POST PUT DELETE PATCH OPTIONS; do
  ok $([[ $(code $m /metrics) == 405 ]]; echo $?) "$m /metrics is 405"
done
allow=$(curl -s -D - -o /dev/null -X DELETE "$U/metrics" | header Allow)
ok $([[ $allow == "GET, HEAD" ]]; echo $?) "405 carries Allow: GET, HEAD (got '$allow')"
ok $([[ $(code POST /nope) == 404 ]]; echo $?) "POST to an unknown path is 404"

# ---- HEAD: headers as for GET, no body ---------------------------------------
head_out=$(curl -s -I "$U/metrics")
ok $([[ $(printf '%s' "$head_out" | header Content-Type) == "text/plain; version=0.0.4; charset=utf-8" ]]; echo $?) \
  "HEAD /metrics has the text Content-Type"
body_len=$(curl -s -X HEAD --max-time 5 "$U/metrics" 2>/dev/null | wc -c)
ok $([[ $body_len -eq 0 ]]; echo $?) "HEAD /metrics sends no body"

# ---- Content-Types ---------------------------------------------------------------
ctype() { curl -s -D - -o /dev/null "$@" | header Content-Type; }
ok $([[ $(ctype "$U/metrics") == "text/plain; version=0.0.4; charset=utf-8" ]]; echo $?) "/metrics defaults to text 0.0.4"
ok $([[ $(ctype "$U/stats") == "application/json" ]]; echo $?) "/stats is application/json"
ok $([[ $(ctype "$U/stats/arenas") == "application/json" ]]; echo $?) "/stats/arenas is application/json"
ok $([[ $(ctype "$U/") == "text/html; charset=utf-8" ]]; echo $?) "/ is text/html"
ok $([[ $(ctype "$U/nope") == "text/plain; charset=utf-8" ]]; echo $?) "404 has a Content-Type too"

# ---- negotiation -------------------------------------------------------------------
OM='application/openmetrics-text; version=1.0.0; charset=utf-8'
TEXT='text/plain; version=0.0.4; charset=utf-8'
P2='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
P3='application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1'
while IFS='|' read -r accept want what; do
  got=$(ctype -H "Accept: $accept" "$U/metrics")
  ok $([[ $got == "$want" ]]; echo $?) "Accept $what gives ${want%%;*} (got '$got')"
done <<EOT
$P2|$OM|of Prometheus 2
$P3|$OM|of Prometheus 3
text/plain;version=0.0.4|$TEXT|text 0.0.4
text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.8|$TEXT|text first by q
application/openmetrics-text;version=1.0.0;q=0|$TEXT|OpenMetrics with q=0
application/openmetrics-text|application/openmetrics-text; version=0.0.1; charset=utf-8|bare OpenMetrics (0.0.1)
application/json|$TEXT|nothing poold serves (fallback)
*/*|$TEXT|*/*
garbage;;;,,,;q=zz|$TEXT|garbage
EOT
curl -s -H "Accept: $P2" "$U/metrics" > "$TEST_TMP/om"
ok $([[ $(tail -n1 "$TEST_TMP/om") == "# EOF" ]]; echo $?) "OpenMetrics ends with # EOF"
ok $(grep -q '^# TYPE poold_purges counter$' "$TEST_TMP/om"; echo $?) "OpenMetrics names counter families without _total"
ok $(grep -q '^poold_purges_total ' "$TEST_TMP/om"; echo $?) "OpenMetrics counter samples keep _total"
ok $(grep -q '^# UNIT poold_arena_size_bytes bytes$' "$TEST_TMP/om"; echo $?) "OpenMetrics has # UNIT for _bytes families"
ok $(! grep -q '^$' "$TEST_TMP/om"; echo $?) "OpenMetrics has no blank lines"

# ---- gzip ------------------------------------------------------------------------------
curl -s -D "$TEST_TMP/gz.h" -H 'Accept-Encoding: gzip' -o "$TEST_TMP/gz" "$U/metrics"
ok $([[ $(header Content-Encoding < "$TEST_TMP/gz.h") == gzip ]]; echo $?) "Accept-Encoding: gzip gets Content-Encoding: gzip"
ok $([[ $(header Vary < "$TEST_TMP/gz.h") == Accept-Encoding ]]; echo $?) "gzip answer has Vary: Accept-Encoding"
gunzip -c < "$TEST_TMP/gz" > "$TEST_TMP/gz.txt" 2>/dev/null
ok $? "the gzip body decompresses"
curl -s "$U/metrics" > "$TEST_TMP/plain.txt"
# Values move between scrapes; the sample names and their order must not.
ok $(diff <(awk '{print $1}' "$TEST_TMP/gz.txt") <(awk '{print $1}' "$TEST_TMP/plain.txt") >/dev/null; echo $?) \
  "the decompressed body has the same series as the plain one"
ok $(promtool check metrics < "$TEST_TMP/gz.txt" >/dev/null 2>&1; echo $?) "the decompressed body passes promtool"
zsize=$(stat -c %s "$TEST_TMP/gz"); psize=$(stat -c %s "$TEST_TMP/plain.txt")
ok $([[ $zsize -lt $((psize / 3)) ]]; echo $?) "gzip shrinks /metrics ($psize -> $zsize bytes)"
ok $([[ -z $(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip;q=0' "$U/metrics" | header Content-Encoding) ]]; echo $?) \
  "gzip;q=0 gets no gzip"
ok $([[ -z $(curl -s -D - -o /dev/null "$U/metrics" | header Content-Encoding) ]]; echo $?) "no Accept-Encoding, no gzip"
ok $([[ $(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$U/stats" | header Content-Encoding) == gzip ]]; echo $?) \
  "/stats is gzipped too when allowed"

# ---- /stats ------------------------------------------------------------------------------
curl -s "$U/stats" > "$TEST_TMP/stats.json"
check "/stats is a full snapshot (arenas, size_classes, bytes, large, ops, workload, process)" python3 - "$TEST_TMP/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
a = s["allocator"]
for k in ("current", "allocated_total", "released_total", "highwater", "arena_size"):
    assert k in a["arenas"], k
assert len(a["size_classes"]) == 68, len(a["size_classes"])
for c in a["size_classes"]:
    for k in ("size", "pools", "pools_per_run", "blocks_allocated", "blocks_free", "allocations",
              "frees"):
        assert k in c, k
# pymalloc's 32 classes of 16 B, then four per doubling up to 256 KiB
medium = [(1 << e) + q * (1 << (e - 2)) for e in range(9, 18) for q in range(1, 5)]
assert [c["size"] for c in a["size_classes"]] == list(range(16, 513, 16)) + medium
assert sum(c["pools"] * (c["pools_per_run"] - 1) for c in a["size_classes"]) == a["pools"]["span"]
b = a["bytes"]
assert sum(b.values()) == a["arenas"]["current"] * a["arenas"]["arena_size"], b
assert "allocations" in a["large"] and "operations" in a
w = s["workload"]
assert w["profile"] == "steady" and w["threads"] == 2, w
assert s["process"]["resident_memory_bytes"] > 0
assert s["http"]["requests"]["200"] > 0
PY

# ---- /stats/arenas paging ---------------------------------------------------------------
check "/stats/arenas pages: offset/limit, next_offset, total" python3 - "$U" <<'PY'
import json, sys, urllib.request
u = sys.argv[1]
get = lambda q: json.load(urllib.request.urlopen(u + "/stats/arenas" + q))
first = get("?limit=1")
assert first["limit"] == 1 and len(first["arenas"]) == min(1, first["total"]), first.keys()
assert first["total"] >= 1
arena = first["arenas"][0]
assert len(arena["pools"]) == 64 and arena["address"].startswith("0x")
assert all(p["state"] in ("used", "empty", "untouched", "returned", "header") for p in arena["pools"])
per_arena = json.load(urllib.request.urlopen(u + "/stats"))["allocator"]["geometry"]["pools_per_arena"]
assert sum(p["state"] != "header" for p in arena["pools"]) == per_arena
used = [p for p in arena["pools"] if p["state"] == "used"]
assert all(16 <= p["size"] <= 512 and 0 <= p["used"] <= p["blocks"] for p in used)
big = get("?limit=100000")
assert big["limit"] == 64 and len(big["arenas"]) <= 64, big["limit"]
past = get("?offset=1000000")
assert past["arenas"] == [] and past["next_offset"] is None
if first["total"] > 1:
    assert first["next_offset"] == 1
PY
for q in "offset=x" "limit=-1" "limit=1e3" "offset=99999999999999999999999"; do
  ok $([[ $(code GET "/stats/arenas?$q") == 400 ]]; echo $?) "/stats/arenas?$q is 400"
done

# ---- landing page and health -------------------------------------------------------------
landing=$(curl -s "$U/")
ok $([[ $landing == *poold* && $landing == *"$(./"$POOLD" --version | awk '{print $3}')"* ]]; echo $?) "the landing page names poold and its version"
for link in /metrics /stats /stats/arenas /healthz; do
  ok $([[ $landing == *"href=\"$link\""* ]]; echo $?) "the landing page links $link"
done
ok $([[ $(curl -s "$U/healthz") == ok ]]; echo $?) "/healthz says ok"

# ---- bodies are refused ------------------------------------------------------------------
ok $([[ $(code GET /metrics --data-binary 'x=1' -X GET) == 413 ]]; echo $?) "GET with a body is 413"
ok $([[ $(code GET /metrics -H 'Transfer-Encoding: chunked' --data-binary @/etc/hostname -X GET) == 413 ]]; echo $?) \
  "GET with a chunked body is 413"
ok $([[ $(code POST /metrics --data-binary 'x=1') == 405 ]]; echo $?) "POST with a body is 405"
ok $([[ $(code GET /metrics) == 200 ]]; echo $?) "and the next request is served"

# ---- a custom telemetry path ---------------------------------------------------------------
first_url=$U
start_poold --workload=idle --web.telemetry-path=/custom/path
U=$POOLD_URL
ok $([[ $(code GET /custom/path) == 200 && $(code GET /metrics) == 404 ]]; echo $?) \
  "--web.telemetry-path moves the metrics (and /metrics is then 404)"
ok $(curl -s "$U/" | grep -q 'href="/custom/path"'; echo $?) "the landing page links the custom path"

# ---- the request counters ------------------------------------------------------------------
U=$first_url
m=$(curl -s "$U/metrics")
for c in 200 400 404 405 413 503; do
  ok $(grep -q "^poold_http_requests_total{code=\"$c\"} " <<<"$m"; echo $?) "poold_http_requests_total{code=\"$c\"} exists"
done
n404=$(metric 'poold_http_requests_total{code="404"}' <<<"$m")
ok $([[ $n404 -ge 6 ]]; echo $?) "404s were counted ($n404)"
inflight=$(metric poold_http_requests_in_flight <<<"$m")
ok $([[ $inflight -ge 1 ]]; echo $?) "in-flight includes the scrape itself ($inflight)"
done_testing

#!/usr/bin/env bash
# observe-systemd: the process collector under the shipped, hardened unit, in
# a throwaway systemd (tests/systemd/sandbox.sh, as the systemd suite uses).
# What the sandbox really does: PrivateDevices=yes still binds the host's
# /dev/shm into poold's private /dev, but poold runs as a transient user
# (DynamicUser=yes), so a segment with the default mode 0600, made by
# another user, cannot be opened: skipped as "open", nothing exported.
# POOLMALLOC_EXPORT_MODE=0644 on the exporting service is enough; the README's
# way adds a directory of its own: a tmpfiles.d line (/run/poolmalloc, sticky
# and world-writable like /dev/shm), POOLMALLOC_EXPORT=/run/poolmalloc, two
# keys in poold.conf and a reload. poold's unit keeps every hardening setting.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/systemd/sandbox.sh
BUILD=${BUILD:-build}
export BUILD
CONF=/etc/poold/poold.conf
UNIT=/usr/local/lib/systemd/system/poold.service
SHARED=/run/poolmalloc

if reason=$(sb_unavailable); then
  skip "the process collector under systemd" "$reason"
  done_testing
  exit
fi
if [[ ! -x /usr/bin/python3 ]]; then
  skip "the process collector under systemd" "no /usr/bin/python3 to run on the shim"
  done_testing
  exit
fi
trap sb_stop EXIT
trap 'exit 1' INT TERM
mkdir -p "$BUILD/test-logs"
if ! sb_start "$BUILD/test-logs/observe-systemd-sandbox.log"; then
  ok 1 "boot systemd as PID 1 of a sandbox: $SB_ERROR"
  done_testing
  exit
fi
ok 0 "systemd is running as PID 1 of a sandbox"

show() { sb systemctl show -P "$1" "$2" 2>/dev/null; }
metrics() { sb curl -fsS --max-time 5 http://127.0.0.1:19180/metrics; }
# until SECONDS CMD...: retries CMD every 0.3 s
until_ok() {
  local n=$(($1 * 10 / 3)); shift
  while ! "$@" >/dev/null 2>&1; do ((n-- > 0)) || return 1; sleep 0.3; done
}
conf() { sb sh -c "sed -i '/^$1 *=/d' $CONF && echo '$1 = $2' >>$CONF"; }
exposure() {
  sb systemd-analyze security poold.service 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
# demo UNIT DIR [MODE]: python3 on the installed shim, publishing into DIR
# every 200 ms (segment mode MODE, default the shim's own 0600)
demo() {
  sb systemd-run --quiet --unit="$1" -E LD_PRELOAD=/usr/local/lib/libpoolmalloc.so \
    -E PYTHONMALLOC=malloc -E POOLMALLOC_EXPORT="$2" ${3:+-E POOLMALLOC_EXPORT_MODE=$3} \
    -E POOLMALLOC_EXPORT_INTERVAL=200 /usr/bin/python3 -c \
    'import time; x = [str(i) * 5 for i in range(200000)]; time.sleep(3600)'
}
skipped() { metrics | sed -n "s/^poold_process_segments_skipped_total{reason=\"$1\"} //p"; }
grew() { (($(skipped "$1") > $2)); }
exported() { metrics | grep -q "^poold_process_info{pid=\"$1\",comm=\"python3\",allocator=\"poolalloc\"} 1$"; }
none_exported() { [[ "$(metrics | sed -n 's/^poold_processes //p')" == 0 ]]; }

out=$(SB_TIMEOUT=300 sb bash -c "cd '$PWD' && rm -rf /etc/poold && make --no-print-directory install" 2>&1)
ok $? "make install inside the sandbox (poold, its units, the shim)" || { tail -5 <<<"$out" | sed 's/^/#   /'; done_testing; exit 1; }
before=$(exposure)
conf collector.processes true
sb systemctl start poold.socket poold.service
until_ok 10 metrics; ok $? "poold.service serves /metrics (the shipped unit, collector on, default directory /dev/shm)"

# ---- the caveat: another user's 0600 segment -------------------------------------------
demo poolmalloc-demo1 /dev/shm
pid1=$(show MainPID poolmalloc-demo1.service)
until_ok 10 sb test -e "/dev/shm/poolmalloc.$pid1"
ok $? "a service on the shim publishes /dev/shm/poolmalloc.$pid1 (mode $(sb stat -c %a "/dev/shm/poolmalloc.$pid1"))"
open0=$(skipped open)
until_ok 5 grew open "$open0"
ok $? "poold, a transient user, cannot open it: skipped as \"open\""
none_exported; ok $? "... nothing exported (poold_processes 0)"
sb systemctl stop poolmalloc-demo1.service
demo poolmalloc-demo3 /dev/shm 0644
pid3=$(show MainPID poolmalloc-demo3.service)
until_ok 10 exported "$pid3"
ok $? "with POOLMALLOC_EXPORT_MODE=0644 poold exports it from /dev/shm (PrivateDevices=yes keeps the host's /dev/shm)"
sb systemctl stop poolmalloc-demo3.service
until_ok 10 none_exported

# ---- the documented way: a shared directory ---------------------------------------------
sb sh -c "echo 'd $SHARED 1777 root root -' >/etc/tmpfiles.d/poolmalloc.conf && systemd-tmpfiles --create /etc/tmpfiles.d/poolmalloc.conf"
ok $? "tmpfiles.d makes $SHARED (1777, like /dev/shm)"
conf collector.processes.dir "$SHARED"
sb systemctl reload poold.service; ok $? "poold.conf: collector.processes.dir = $SHARED, systemctl reload"
demo poolmalloc-demo2 "$SHARED" 0644
pid2=$(show MainPID poolmalloc-demo2.service)
until_ok 10 exported "$pid2"
ok $? "poold exports the service publishing into $SHARED (poold_process_info{pid=\"$pid2\",comm=\"python3\"})"
m=$(metrics)
grep -q "^poold_process_arena_bytes{pid=\"$pid2\",comm=\"python3\",kind=\"allocated\"} [1-9]" <<<"$m"
ok $? "... with its allocator figures (allocated arena bytes)"
[[ "$(sed -n 's/^poold_processes //p' <<<"$m")" == 1 ]]; ok $? "... and only it"
after=$(exposure)
[[ -n "$before" && "$after" == "$before" ]]
ok $? "poold.service keeps its hardening: exposure $after, as before ($before)"
for p in PrivateDevices=yes ProtectSystem=strict DynamicUser=yes PrivateUsers=yes ProtectProc=invisible; do
  [[ "$(show "${p%%=*}" poold.service)" == "${p#*=}" ]]; ok $? "poold.service still has $p"
done
sb systemctl stop poolmalloc-demo2.service
until_ok 10 none_exported; ok $? "the service stopped: poold_processes 0 again"
sb systemctl stop poold.service poold.socket

sb_stop
left=$(sb_leftovers)
[[ -z "$left" ]]; ok $? "the sandbox is gone" || sed 's/^/#   /' <<<"$left"
done_testing

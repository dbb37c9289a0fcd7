#!/usr/bin/env bash
# poold under a real systemd: PID 1 of a throwaway sandbox (sandbox.sh), where
# `make install` puts the units, binary and config, and systemctl drives it:
# socket activation, Type=notify, STATUS=, reload, the watchdog restarting a
# wedged poold, the journal with priorities, a clean stop; plus the unit's
# exposure score and `systemd-analyze verify`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/systemd/sandbox.sh
BUILD=${BUILD:-build}
export BUILD
UNITDIR=/usr/local/lib/systemd/system    # make install's default (PREFIX=/usr/local)
CONF=/etc/poold/poold.conf
MAX_EXPOSURE=2.0

# ---- the shipped unit, offline -------------------------------------------------
exposure() {
  systemd-analyze security --offline=yes "$1" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for unit in systemd/poold.service "$BUILD/systemd/poold.service"; do
  score=$(exposure "$unit")
  ok "$(awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s != "" && s <= m) }'; echo $?)" \
    "systemd-analyze security --offline=yes $unit: ${score:-no score} <= $MAX_EXPOSURE"
done
check "the socket listens on 127.0.0.1:19180 by default" \
  grep -qx 'ListenStream=127.0.0.1:19180' systemd/poold.socket
ADDR=127.0.0.1:19180

# ---- the sandbox ----------------------------------------------------------------
if reason=$(sb_unavailable); then
  skip "poold under a real systemd" "$reason"
  done_testing
  exit
fi
trap sb_stop EXIT
trap 'exit 1' INT TERM
mkdir -p "$BUILD/test-logs"
if ! sb_start "$BUILD/test-logs/systemd-sandbox.log"; then
  ok 1 "boot systemd as PID 1 of a sandbox: $SB_ERROR"
  done_testing
  exit
fi
ok 0 "systemd $(sb systemctl --version | awk 'NR == 1 { print $2 }') is running as PID 1 of the sandbox"

# ok STATUS DESC OUTPUT: the output as diagnostics when it failed.
ok_out() {
  ok "$1" "$2"
  [[ $1 -eq 0 ]] && return 0
  printf '%s\n' "$3" | tail -15 | sed 's/^/#   /'
  return 1
}
# After a failure: the units' journal, for the log.
dump_journal() {
  [[ $TAP_FAILED -eq 0 ]] && return
  diag "journal of poold.socket and poold.service:"
  sb journalctl -u poold.socket -u poold.service --no-pager -n 60 -o short-monotonic 2>&1 | sed 's/^/#   /'
}
# The rest needs what failed: say so, tear down and stop.
bail() {
  diag "stopping here: $1"
  dump_journal
  sb_stop
  done_testing
  exit 1
}
# The value of a property of a unit (default poold.service).
prop() { sb systemctl show -P "$1" "${2:-poold.service}" 2>/dev/null; }
get() { sb curl -fsS --max-time 5 "http://$ADDR$1"; }
# Retries a command for up to $1 seconds.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS >= end)) && return 1
    sleep 0.3
  done
}
# Sets key = value in the sandbox's poold.conf (replacing any line for key).
set_conf() {
  sb sed -i "/^[#[:space:]]*$1[[:space:]]*=/d" "$CONF" &&
    sb sh -c "printf '%s = %s\n' '$1' '$2' >>'$CONF'"
}
drop_conf() { sb sed -i "/^[#[:space:]]*$1[[:space:]]*=/d" "$CONF"; }
# poold's own journal entries as "PRIORITY TRANSPORT MESSAGE" lines.
poold_journal() {
  sb journalctl -u poold.service SYSLOG_IDENTIFIER=poold --no-pager -o json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e.get("PRIORITY", "-"), e.get("_TRANSPORT", "-"), e.get("MESSAGE", ""))'
}
# systemd's own lines about poold.service.
manager_journal() { sb journalctl -u poold.service _PID=1 --no-pager -o cat 2>/dev/null; }
# (The journal is read whole first: grep -q would end the pipe early.)
journal_has() { local j; j=$(poold_journal); grep -qE "$1" <<<"$j"; }
manager_says() { local j; j=$(manager_journal); grep -q "$1" <<<"$j"; }
env_has() { local e; e=$(sb cat "/proc/$1/environ" | tr '\0' '\n') && grep -qx "$2" <<<"$e"; }
metrics_workload() { local m; m=$(get /metrics) && grep -q "^poold_workload_info{workload=\"$1\"} 1" <<<"$m"; }
status_says() { [[ "$(prop StatusText)" == *"$1"* ]]; }
not() { ! "$@"; }
is_active() { [[ "$(prop ActiveState "${1:-poold.service}")" == active ]]; }

# ---- make install inside ----------------------------------------------------------
# Whatever a previous install on this machine left is removed first (inside the
# overlay only), so this is a fresh install.
out=$(SB_TIMEOUT=300 sb bash -c "cd '$PWD' &&
  rm -rf /etc/poold $UNITDIR/poold.service $UNITDIR/poold.socket \
         /etc/systemd/system/poold.service* /etc/systemd/system/poold.socket* &&
  make --no-print-directory install" 2>&1)
ok_out $? "make install (PREFIX=/usr/local, no DESTDIR) inside the sandbox" "$out" ||
  bail "make install failed"
check "poold.service is loaded from $UNITDIR" \
  test "$(prop FragmentPath)" = "$UNITDIR/poold.service"
check "ExecStart is the installed binary with --web.systemd-socket" \
  sb grep -qx 'ExecStart=/usr/local/bin/poold --web.systemd-socket' "$UNITDIR/poold.service"
check "the default config is installed at $CONF" sb test -s "$CONF"
# (Debian's /usr/local/man is a link to share/man: compare real paths.)
page=$(sb man -w poold 2>/dev/null)
ok "$([[ -n $page && $(sb realpath "$page") == /usr/local/share/man/man8/poold.8 ]]; echo $?)" \
  "man poold finds the installed page: ${page:-none}"
out=$(sb systemd-analyze verify "$UNITDIR/poold.socket" "$UNITDIR/poold.service" 2>&1)
ok_out $? "systemd-analyze verify of the installed units exits 0" "$out"
ok_out "$([[ -z "$out" ]]; echo $?)" "systemd-analyze verify prints nothing" "$out"

# ---- start --------------------------------------------------------------------------
out=$(sb systemctl start poold.socket poold.service 2>&1)
ok_out $? "systemctl start poold.socket poold.service" "$out"
check "poold.socket is active (listening)" is_active poold.socket
check "poold.service ActiveState=active" is_active ||
  bail "poold did not start: $(sb journalctl -u poold.service --no-pager -n 8 -o cat | tr '\n' '|')"
check "poold.service SubState=running" test "$(prop SubState)" = running
status=$(prop StatusText)
ok "$([[ "$status" == *"workload python"* ]]; echo $?)" "StatusText from STATUS=: \"$status\""
wd=$(prop WatchdogUSec)
ok "$([[ -n "$wd" && "$wd" != 0 && "$wd" != infinity ]]; echo $?)" "WatchdogUSec is set ($wd)"
check "/metrics answers on $ADDR through the socket" wait_for 5 get /metrics
check "/metrics shows the default workload (python)" metrics_workload python
check "/healthz answers 200" get /healthz

# The options really apply to the running process (read from the sandbox's root,
# outside the service's own /proc view).
pid=$(prop MainPID)
st=$(sb cat "/proc/$pid/status" 2>/dev/null)
field() { awk -v f="$1:" '$1 == f { print $2 }' <<<"$st"; }
ok "$([[ -n "$(field Uid)" && "$(field Uid)" != 0 ]]; echo $?)" "runs as a dynamic user (uid $(field Uid)), not root"
check "no effective or bounding capabilities" test "$(field CapEff)$(field CapBnd)" = 00000000000000000000000000000000
check "NoNewPrivs is set" test "$(field NoNewPrivs)" = 1
check "a seccomp filter is installed" test "$(field Seccomp)" = 2
check "its own network namespace (PrivateNetwork=yes)" \
  test "$(sb readlink "/proc/$pid/ns/net")" != "$(sb readlink /proc/1/ns/net)"
check "its own mount namespace (ProtectSystem=, PrivateTmp=, ...)" \
  test "$(sb readlink "/proc/$pid/ns/mnt")" != "$(sb readlink /proc/1/ns/mnt)"
check "the listening socket is passed in (LISTEN_FDS=1)" env_has "$pid" LISTEN_FDS=1
# IPAddressDeny= is enforced in this manager (BPF on cgroup2): a unit with it
# cannot reach the socket, the same unit without it can; poold, under it,
# serves the socket passed in (the lists of the .socket unit apply there).
probe_unit() {
  sb sh -c "printf '[Service]\nType=oneshot\n$2\nExecStart=curl -sS -m 3 -o /dev/null http://$ADDR/healthz\n' \
    >/run/systemd/system/$1.service && systemctl daemon-reload && systemctl start $1.service"
}
check "a unit without IPAddressDeny= reaches $ADDR" probe_unit poold-probe-allow ""
check "a unit with IPAddressDeny=any cannot (the IP firewall is live here)" \
  not probe_unit poold-probe-deny IPAddressDeny=any
check "poold logs to the journal natively (_TRANSPORT=journal), 'ready' at priority 6 (info)" \
  journal_has '^6 journal .*ready'
check "WATCHDOG_USEC is passed to poold" env_has "$pid" 'WATCHDOG_USEC=[1-9][0-9]*'

# ---- reload -------------------------------------------------------------------------
restarts=$(prop NRestarts)
set_conf workload steady
out=$(sb systemctl reload poold.service 2>&1)
ok_out $? "systemctl reload poold" "$out"
check "the reload applies the new workload from $CONF (poold_workload_info)" \
  wait_for 10 metrics_workload steady
check "StatusText follows the reload" wait_for 5 status_says "workload steady"
check "ActiveState=active after the reload (READY=1 ended the RELOADING=1)" is_active
check "the same process (MainPID $pid) after the reload" test "$(prop MainPID)" = "$pid"
check "no restart for the reload" test "$(prop NRestarts)" = "$restarts"

out=$(SB_TIMEOUT=300 sb make --no-print-directory -C "$PWD" install 2>&1)
ok_out $? "make install again" "$out"
check "make install keeps an existing $CONF" sb grep -qx 'workload = steady' "$CONF"

set_conf no.such-key 1
out=$(sb systemctl reload poold.service 2>&1)
ok_out $? "systemctl reload with a bad config" "$out"
check "the bad config is reported in the journal at priority 3 (err)" \
  wait_for 5 journal_has '^3 journal .*no.such-key'
check "the running config is kept (workload still steady)" metrics_workload steady
check "still active, same process, after the bad reload" \
  test "$(prop ActiveState) $(prop MainPID)" = "active $pid"
drop_conf no.such-key

# ---- the watchdog ---------------------------------------------------------------------
# --debug.wedge-on-sigusr2 is not reloadable: a restart picks it up (and shows
# the socket is handed over again).
set_conf debug.wedge-on-sigusr2 true
out=$(sb systemctl restart poold.service 2>&1)
ok_out $? "systemctl restart poold" "$out"
pid2=$(prop MainPID)
check "a new process after the restart" test "${pid2:-0}" != 0 -a "$pid2" != "$pid"
check "/metrics answers again after the restart (the same socket)" wait_for 5 get /metrics
restarts=$(prop NRestarts)
check "systemctl kill -s SIGUSR2 wedges the workload" \
  sb systemctl kill -s SIGUSR2 --kill-who=main poold.service
wd_s=$(awk -v w="$wd" 'BEGIN { s = w + 0; if (w ~ /min/) s *= 60; print int(s) + 1 }')
restarted() { (($(prop NRestarts) > restarts)) && is_active; }
check "systemd restarts the wedged poold (NRestarts went up from $restarts)" \
  wait_for $((3 * wd_s + 10)) restarted
check "the manager logged a watchdog timeout" manager_says 'Watchdog timeout'
check "...and a failure with result 'watchdog'" manager_says "result 'watchdog'"
check "poold warned (priority 4) that it stopped feeding the watchdog" \
  journal_has '^4 journal .*not feeding the watchdog'
pid3=$(prop MainPID)
check "a new process after the watchdog restart" test "${pid3:-0}" != 0 -a "$pid3" != "$pid2"
check "/metrics answers after the watchdog restart" wait_for 10 get /metrics
drop_conf debug.wedge-on-sigusr2

# ---- stop, then activation by a connection ----------------------------------------------
out=$(sb systemctl stop poold.service 2>&1)
ok_out $? "systemctl stop poold" "$out"
check "Result=success after the stop" test "$(prop Result)" = success
check "ActiveState=inactive after the stop" test "$(prop ActiveState)" = inactive
check "that poold (PID $pid3) exited with status 0" \
  test "$(prop ExecMainPID) $(prop ExecMainCode) $(prop ExecMainStatus)" = "$pid3 1 0"
check "poold logged its shutdown (priority 6)" journal_has '^6 journal .*stopped'
check "poold.socket keeps listening while poold is stopped" is_active poold.socket
check "a connection to the socket starts poold again (socket activation)" wait_for 20 get /metrics
check "poold.service is active again" is_active

out=$(sb systemctl stop poold.socket poold.service 2>&1)
ok_out $? "systemctl stop poold.socket poold.service" "$out"
check "Result=success at the end" test "$(prop Result)" = success
check "poold.socket stopped too" test "$(prop ActiveState poold.socket)" = inactive
check "the system-call filter never killed poold (no status=31/SYS)" not manager_says 'status=31/SYS'

# ---- teardown ----------------------------------------------------------------------------
dump_journal
sb_stop
left=$(sb_leftovers)
ok_out "$([[ -z "$left" ]]; echo $?)" "the sandbox is gone: no process, mount, directory or cgroup left" "$left"
done_testing

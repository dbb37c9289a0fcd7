# A real systemd as PID 1 of new namespaces, on a throwaway overlay of this
# machine's root (see sandbox-init.sh). Source it, then
#   sb_unavailable          prints why the machine cannot do it (and fails), or succeeds
#   sb_start LOG            boots it (the launcher's output to LOG); fails with the reason
#                           in SB_ERROR (call it directly, not in a subshell: it
#                           keeps the sandbox's state in SB_* variables)
#   sb CMD...               runs CMD inside (all namespaces), bounded by $SB_TIMEOUT
#   sb_stop                 powers it off and removes what it used; idempotent
#   sb_leftovers            prints anything it left on the real machine
# The sandbox gets its own cgroup2 group and a cgroup namespace rooted there,
# so its units never touch the host's (or another sandbox's) cgroups; unshare
# --kill-child takes the whole namespace down if the test dies.

SB_ERROR="" SB_DIR="" SB_PID="" SB_LAUNCHER="" SB_PIDNS="" SB_CGROUPS=() SB_CG_BEFORE=()
SB_TIMEOUT=${SB_TIMEOUT:-30}
SB_TARGET=poold-sandbox.target
SB_INIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sandbox-init.sh"

sb_unavailable() {
  if [[ $(id -u) -ne 0 ]]; then echo "needs root to create namespaces and mount an overlay"; return 0; fi
  if [[ ! -x /lib/systemd/systemd ]]; then echo "/lib/systemd/systemd is not installed"; return 0; fi
  local err
  if ! err=$(timeout 10 unshare --pid --fork --mount --uts --ipc --net --cgroup true 2>&1); then
    echo "cannot create pid/mount/uts/ipc/net/cgroup namespaces: $err"; return 0
  fi
  local d; d=$(mktemp -d /tmp/poold-sb-probe.XXXXXX)
  if ! err=$(timeout 10 unshare --mount bash -c '
        mount --make-rprivate / && mount -t tmpfs probe "$1" && mkdir "$1"/{u,w,r} &&
        mount -t overlay overlay -o "lowerdir=/,upperdir=$1/u,workdir=$1/w" "$1/r"' _ "$d" 2>&1); then
    rmdir "$d"; echo "cannot mount an overlay of / on a tmpfs: $err"; return 0
  fi
  rmdir "$d"
  return 1
}

# The cgroups systemd would make for its units, right under $1.
sb_unit_cgroups() {
  find "$1" -mindepth 1 -maxdepth 1 -type d \( -name '*.slice' -o -name '*.scope' \) -printf '%f\n' |
    sort | tr '\n' ' '
}

# Creates the sandbox's cgroup2 group (SB_CGROUPS) next to this shell's; the
# sandbox's manager runs a pure cgroup2 tree rooted there.
sb_make_cgroups() {
  local mp path parent cg
  mp=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
  path=$(sed -n 's/^0:://p' /proc/self/cgroup)
  [[ -n "$mp" && -n "$path" ]] || return 0
  parent="${mp%/}${path%/}"
  SB_CG_BEFORE+=("$parent|$(sb_unit_cgroups "$parent")")
  cg="$parent/$(basename "$SB_DIR")"
  mkdir "$cg" 2>/dev/null && SB_CGROUPS+=("$cg")
}

# What a sandbox killed outright (SIGKILL: no cleanup) left: its empty
# directory and cgroup. Only those older than a minute that no process names
# (the launcher's command line holds the directory) are removed.
sb_sweep_stale() {
  local d cg mp
  mp=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
  for d in $(find /tmp -maxdepth 1 -type d -name 'poold-sandbox.*' -mmin +1 2>/dev/null); do
    pgrep -f -- "$d" >/dev/null && continue
    rmdir "$d" 2>/dev/null || continue
    [[ -n "$mp" ]] && find "$mp" -maxdepth 3 -type d -name "$(basename "$d")" 2>/dev/null |
      while read -r cg; do find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null; done
  done
}

sb_start() {
  local log=$1 i
  if [[ $BASHPID != "$$" ]]; then SB_ERROR="sb_start called in a subshell"; return 1; fi
  sb_sweep_stale
  SB_DIR=$(mktemp -d /tmp/poold-sandbox.XXXXXX) || { SB_ERROR="mktemp failed"; return 1; }
  sb_make_cgroups
  (
    for cg in "${SB_CGROUPS[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs" 2>/dev/null; done
    exec unshare --pid --fork --kill-child --mount --uts --ipc --net --cgroup \
      "$SB_INIT" "$SB_DIR" "$SB_TARGET"
  ) >"$log" 2>&1 </dev/null &
  SB_LAUNCHER=$!
  for ((i = 0; i < 100; i++)); do
    SB_PID=$(pgrep -P "$SB_LAUNCHER" | head -1)
    [[ -n "$SB_PID" && "$(cat "/proc/$SB_PID/comm" 2>/dev/null)" == systemd ]] && break
    kill -0 "$SB_LAUNCHER" 2>/dev/null || { SB_ERROR="the sandbox exited at once: $(tail -3 "$log")"; return 1; }
    sleep 0.1
  done
  [[ "$(cat "/proc/$SB_PID/comm" 2>/dev/null)" == systemd ]] || { SB_ERROR="systemd did not start"; return 1; }
  SB_PIDNS=$(readlink "/proc/$SB_PID/ns/pid")
  # The manager's bus appears a moment after it starts (many seconds on a
  # loaded machine: wait up to $SB_TIMEOUT for it, not a fixed count).
  local state end=$((SECONDS + SB_TIMEOUT))
  while :; do
    state=$(timeout 5 nsenter -t "$SB_PID" -a systemctl is-system-running 2>&1)
    [[ "$state" == *"Failed to connect"* && $SECONDS -lt $end ]] || break
    sleep 0.1
  done
  state=$(timeout "$SB_TIMEOUT" nsenter -t "$SB_PID" -a systemctl is-system-running --wait 2>&1)
  [[ "$state" == running ]] || { SB_ERROR="systemd is not running: $state"; return 1; }
}

sb() { timeout "$SB_TIMEOUT" nsenter -t "$SB_PID" -a "$@"; }

# Every process still in the sandbox's PID namespace.
sb_processes() {
  [[ -n "$SB_PIDNS" ]] || return 0
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/pid" 2>/dev/null)" == "$SB_PIDNS" ]] && echo "${p#/proc/}"
  done
}

sb_stop() {
  [[ -n "$SB_LAUNCHER" ]] || return 0
  local i
  if [[ -n "$SB_PID" ]] && kill -0 "$SB_PID" 2>/dev/null; then
    # poweroff answers with a harmless bus error when the manager goes first.
    timeout 15 nsenter -t "$SB_PID" -a systemctl poweroff >/dev/null 2>&1
    for ((i = 0; i < 150 && $(sb_processes | wc -l) > 0; i++)); do sleep 0.1; done
  fi
  # SIGKILL to PID 1 of a namespace ends every process in it.
  [[ $(sb_processes | wc -l) -gt 0 && -n "$SB_PID" ]] && kill -KILL "$SB_PID" 2>/dev/null
  kill -KILL "$SB_LAUNCHER" 2>/dev/null
  wait "$SB_LAUNCHER" 2>/dev/null
  for ((i = 0; i < 50 && $(sb_processes | wc -l) > 0; i++)); do sleep 0.1; done
  local cg
  for cg in "${SB_CGROUPS[@]}"; do
    [[ -d "$cg" ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  [[ -n "$SB_DIR" && -d "$SB_DIR" ]] && rmdir "$SB_DIR" 2>/dev/null
  SB_LAUNCHER=""
}

sb_leftovers() {
  local p cg
  for p in $(sb_processes); do echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
  [[ -n "$SB_DIR" ]] && pgrep -af -- "$SB_DIR" | sed 's/^/process /'
  [[ -n "$SB_DIR" ]] && grep -F "$SB_DIR" /proc/self/mountinfo | sed 's/^/mount: /'
  [[ -n "$SB_DIR" && -e "$SB_DIR" ]] && echo "directory $SB_DIR"
  for cg in "${SB_CGROUPS[@]}"; do [[ -d "$cg" ]] && echo "cgroup $cg"; done
  local entry parent before now
  for entry in "${SB_CG_BEFORE[@]}"; do
    parent=${entry%%|*} before=${entry#*|}
    now=$(sb_unit_cgroups "$parent")
    [[ "$now" == "$before" ]] || echo "cgroups in $parent: before [$before] now [$now]"
  done
  return 0
}

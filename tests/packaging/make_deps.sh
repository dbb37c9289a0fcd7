#!/usr/bin/env bash
# Plain `make` on a machine without the build packages: it must stop at once,
# before any compiler runs, with one line naming the missing Debian packages
# and the command that installs them. A fake dpkg-query (DPKG_QUERY, which
# scripts/deps.sh asks) reports chosen packages as not installed and answers
# for the others as the real one does; a fake compiler records any call.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/systemd/sandbox.sh

tmp=$(mktemp -d /tmp/poold-make-deps.XXXXXX)
trap 'sb_stop; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
cat >"$tmp/dpkg-query" <<'FAKE'
#!/bin/sh
# The real answer ("PACKAGE STATUS" lines), with the packages FAKE_MISSING
# lists turned into ones that are not installed.
dpkg-query "$@" | awk -v missing=" $FAKE_MISSING " 'index(missing, " " $1 " ") { $2 = "not-installed" } { print }'
FAKE
cat >"$tmp/cc" <<'FAKE'
#!/bin/sh
echo "$*" >>"$CC_LOG"
exit 1
FAKE
chmod +x "$tmp/dpkg-query" "$tmp/cc"
export CC_LOG=$tmp/cc.log

# runs make with the fake tools; output in $tmp/out, status in $status
fake_make() {
  local missing=$1; shift
  rm -f "$CC_LOG"
  FAKE_MISSING=$missing DPKG_QUERY=$tmp/dpkg-query \
    timeout 60 make --no-print-directory BUILD="$tmp/build" CC="$tmp/cc" "$@" >"$tmp/out" 2>&1
  status=$?
}
show() { sed 's/^/#   /' "$tmp/out" | head -10; }

for goal in "" all tests install; do
  fake_make "libmicrohttpd-dev libcjson-dev" ${goal:+"$goal"} DESTDIR="$tmp/dest"
  name="make${goal:+ $goal}"
  ok $((status == 0)) "$name without libmicrohttpd-dev, libcjson-dev: fails (status $status)"
  ok "$([[ $(wc -l <"$tmp/out") -eq 1 ]]; echo $?)" "$name: one line of output" || show
  ok "$(grep -q 'libmicrohttpd-dev' "$tmp/out" && grep -q 'libcjson-dev' "$tmp/out"; echo $?)" \
    "$name: the line names both packages" || show
  ok "$(grep -q 'make deps' "$tmp/out" && grep -q 'scripts/deps.sh build' "$tmp/out"; echo $?)" \
    "$name: the line names the command that installs them" || show
  ok "$([[ ! -e $CC_LOG ]]; echo $?)" "$name: no compiler ran"
  ok "$([[ ! -e $tmp/build && ! -e $tmp/dest ]]; echo $?)" "$name: nothing was built or installed"
done

# One package of the group, whichever it is, is enough to stop.
fake_make "zlib1g-dev"
ok "$([[ $status -ne 0 ]] && grep -q 'missing Debian packages: zlib1g-dev;' "$tmp/out"; echo $?)" \
  "make without zlib1g-dev alone names it" || show

# Goals that install what they need are not stopped before they can: make
# reaches their first recipe line, the install (dry run: nothing runs).
fake_make "libmicrohttpd-dev" -n test
ok "$([[ $(head -1 "$tmp/out") == "scripts/deps.sh test" ]]; echo $?)" \
  "make -n test is not stopped by the check (it installs first)" || show

# With every package present (the real dpkg-query answers) make builds: the
# fake compiler is reached, so the check is not what stops it.
fake_make ""
ok "$([[ -s $CC_LOG ]] && ! grep -q 'missing Debian packages' "$tmp/out"; echo $?)" \
  "with every package present make goes on to the compiler" || show

# scripts/deps.sh check on its own: status and line.
out=$(FAKE_MISSING=libyaml-dev DPKG_QUERY=$tmp/dpkg-query scripts/deps.sh check build); st=$?
ok "$([[ $st -eq 1 && $out == *"libyaml-dev"* ]]; echo $?)" "deps.sh check build: status 1 naming libyaml-dev"
out=$(DPKG_QUERY=$tmp/dpkg-query FAKE_MISSING= scripts/deps.sh check build); st=$?
ok "$([[ $st -eq 0 && -z $out ]]; echo $?)" "deps.sh check build: silent and 0 when all are present"

# The real thing: a machine where the packages really are missing. In the
# sandbox's throwaway overlay of this machine's root, dpkg removes two of them
# (their headers go with them); make must say so, not fail in the compiler.
if reason=$(sb_unavailable); then
  skip "make where libmicrohttpd-dev and libcjson-dev are really removed" "$reason"
  done_testing; exit
fi
if ! sb_start "$tmp/sandbox.log"; then
  ok 1 "boot the sandbox: $SB_ERROR"; done_testing; exit
fi
out=$(flock /tmp/apt.lock timeout 120 nsenter -t "$SB_PID" -a \
      dpkg -r --force-depends libmicrohttpd-dev libcjson-dev 2>&1)
ok $? "in the sandbox: dpkg -r libmicrohttpd-dev libcjson-dev" || printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
check "in the sandbox: microhttpd.h is gone" sb bash -c '! test -e /usr/include/microhttpd.h'
out=$(SB_TIMEOUT=60 sb bash -c "cd '$PWD' && make --no-print-directory BUILD=/tmp/fresh-build" 2>&1); status=$?
ok "$([[ $status -ne 0 && $(wc -l <<<"$out") -eq 1 ]]; echo $?)" "make there fails with one line (status $status)" ||
  printf '%s\n' "$out" | head -5 | sed 's/^/#   /'
ok "$([[ $out == *libcjson-dev* && $out == *libmicrohttpd-dev* && $out == *"make deps"* ]]; echo $?)" \
  "the line names both packages and make deps: $out"
check "no compiler ran there (nothing built)" sb bash -c '! test -e /tmp/fresh-build'
sb_stop
done_testing

#!/usr/bin/env bash
# make deb, then the package's life on a fresh machine: in the systemd
# sandbox (tests/systemd/sandbox.sh: a real systemd as PID 1 on a throwaway
# overlay of this machine's root, so dpkg's database and every file written
# stay there) dpkg -i, systemctl start poold, /metrics answers 200, the
# library and man pages are usable, an upgrade restarts poold, dpkg -r
# removes files and units and keeps the conffile, dpkg -P removes that too.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/systemd/sandbox.sh
BUILD=${BUILD:-build}
VERSION=$(sed -n 's/^#define POOLALLOC_VERSION "\(.*\)"/\1/p' allocator/include/poolalloc.h)
ARCH=$(dpkg --print-architecture)
DEB=$BUILD/poold_${VERSION}_$ARCH.deb
ADDR=127.0.0.1:19180
tmp=$(mktemp -d /tmp/poold-deb.XXXXXX)
cleanup() { sb_stop; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

ok_out() {
  ok "$1" "$2"
  [[ $1 -eq 0 ]] && return 0
  printf '%s\n' "$3" | tail -15 | sed 's/^/#   /'
  return 1
}

# ---- the package, offline ----------------------------------------------------------
rm -f "$DEB"
out=$(DEBFULLNAME="poold test" DEBEMAIL=poold-test@example.org \
      nice make --no-print-directory -j2 BUILD="$BUILD" deb 2>&1)
ok_out $? "make deb" "$out"
if [[ ! -f $DEB ]]; then
  ok 1 "make deb writes $DEB"; done_testing; exit
fi
ok 0 "make deb writes $DEB"
dpkg-deb -f "$DEB" >"$tmp/control"
check "control: Package poold, Version $VERSION, Architecture $ARCH" \
  grep -qzP "Package: poold\n(.|\n)*Version: $VERSION\n(.|\n)*Architecture: $ARCH\n" "$tmp/control"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libmicrohttpd12 libcjson1 libsystemd0 libyaml-0-2 zlib1g libcrypt1 libc6; do
  ok "$(grep -qE "(^|, )$lib( |,|\$)" <<<"$depends"; echo $?)" "Depends names $lib"
done
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/bin/poold /usr/bin/pooltrace /usr/lib/libpoolalloc.so.0 /usr/lib/libpoolalloc.so \
         /usr/lib/libpoolalloc.a /usr/lib/libpoolmalloc.so /usr/include/poolalloc.h \
         /usr/lib/pkgconfig/poolalloc.pc /usr/lib/systemd/system/poold.service \
         /usr/lib/systemd/system/poold.socket /etc/poold/poold.conf \
         /usr/share/man/man8/poold.8.gz /usr/share/man/man3/poolalloc.3.gz \
         /usr/share/man/man7/poolmalloc.7.gz /usr/share/man/man1/pooltrace.1.gz \
         /usr/share/man/man1/poolpython.1.gz \
         /usr/share/doc/poold/copyright /usr/share/doc/poold/README.md \
         /usr/share/doc/poold/docs/daemon.md /usr/share/doc/poold/docs/metrics.md; do
  ok "$(grep -qx -- "$f" "$tmp/files"; echo $?)" "the package holds $f"
done
ok "$([[ $(grep -c '^/usr/local' "$tmp/files") -eq 0 ]]; echo $?)" "nothing under /usr/local"
mkdir "$tmp/ctl" && dpkg-deb -e "$DEB" "$tmp/ctl"
check "conffiles: /etc/poold/poold.conf" grep -qx /etc/poold/poold.conf "$tmp/ctl/conffiles"
for s in postinst prerm postrm; do
  ok "$([[ -x $tmp/ctl/$s ]] && sh -n "$tmp/ctl/$s"; echo $?)" "maintainer script $s: executable, valid sh"
done
mkdir "$tmp/data" && dpkg-deb -x "$DEB" "$tmp/data"
check "the packaged unit starts /usr/bin/poold" \
  grep -qx 'ExecStart=/usr/bin/poold --web.systemd-socket' "$tmp/data/usr/lib/systemd/system/poold.service"
check "the packaged poolalloc.pc has prefix=/usr" grep -qx 'prefix=/usr' "$tmp/data/usr/lib/pkgconfig/poolalloc.pc"
if command -v lintian >/dev/null; then
  out=$(nice lintian "$DEB" 2>&1); errs=$(grep -c '^E:' <<<"$out")
  ok_out "$((errs > 0))" "lintian: no errors ($(grep -c '^W:' <<<"$out") warnings)" "$(grep '^E:' <<<"$out")"
else
  skip "lintian" "lintian is not installed"
fi

# ---- on a fresh machine: the sandbox ---------------------------------------------------
if reason=$(sb_unavailable); then
  skip "dpkg -i, start, dpkg -r under a real systemd" "$reason"
  done_testing; exit
fi
mkdir -p "$BUILD/test-logs"
if ! sb_start "$BUILD/test-logs/deb-sandbox.log"; then
  ok 1 "boot systemd as PID 1 of a sandbox: $SB_ERROR"; done_testing; exit
fi
ok 0 "systemd is running as PID 1 of the sandbox"
prop() { sb systemctl show -P "$1" "${2:-poold.service}" 2>/dev/null; }
get() { sb curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://$ADDR$1"; }
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS >= end)) && return 1; sleep 0.3; done
}
answers_200() { [[ $(get /metrics) == 200 ]]; }
# dpkg inside reads the machine's dpkg database through the overlay: never
# while a dpkg of the machine itself runs.
sdpkg() { flock /tmp/apt.lock timeout 120 nsenter -t "$SB_PID" -a dpkg "$@"; }
deb_abs=$(realpath "$DEB")

# A fresh machine: no poold from anywhere else, and no policy-rc.d (a
# container image's "start no services", which the maintainer scripts honour
# through deb-systemd-invoke); inside the overlay only.
sb rm -f /usr/sbin/policy-rc.d
sb rm -rf /etc/poold /usr/local/lib/systemd/system/poold.service /usr/local/lib/systemd/system/poold.socket \
  /etc/systemd/system/poold.service /etc/systemd/system/poold.socket
out=$(sdpkg -i "$deb_abs" 2>&1)
ok_out $? "dpkg -i $(basename "$DEB")" "$out"
check "dpkg -s: install ok installed" \
  test "$(sb dpkg-query -W -f='${db:Status-Abbrev}' poold)" = "ii "
# (/lib is /usr/lib on a merged-/usr Debian: compare real paths.)
frag=$(prop FragmentPath)
ok "$([[ -n $frag && $(sb realpath "$frag") == /usr/lib/systemd/system/poold.service ]]; echo $?)" \
  "poold.service is loaded from the packaged unit (daemon-reload ran): ${frag:-not loaded}"
check "the package does not start poold unasked" test "$(prop ActiveState)" = inactive
out=$(sb systemctl start poold 2>&1)
ok_out $? "systemctl start poold" "$out"
check "poold.service is active" test "$(prop ActiveState)" = active
check "poold.socket is active" test "$(prop ActiveState poold.socket)" = active
check "curl /metrics answers 200" wait_for 10 answers_200
check "/metrics holds poold_build_info{version=\"$VERSION\"}" \
  sb bash -c "curl -fsS --max-time 5 http://$ADDR/metrics | grep -q '^poold_build_info{version=\"$VERSION\"} 1'"
check "man -w poold finds the packaged page" \
  test "$(sb man -w poold 2>/dev/null)" = /usr/share/man/man8/poold.8.gz
out=$(sb bash -c 'MANWIDTH=80 man --warnings poold 2>&1 >/dev/null' 2>&1)
ok_out "$([[ -z $out ]]; echo $?)" "man poold renders without warnings" "$out"
out=$(sb bash -c 'cd /tmp && printf "#include <poolalloc.h>\nint main(void){void *p = pool_malloc(40); int o = pool_owns(p); pool_free(p); return !o;}\n" >t.c &&
  cc t.c $(pkg-config --cflags --libs poolalloc) -o t && ./t &&
  lib=$(ldd ./t | sed -n "s/.*libpoolalloc.so.0 => \([^ ]*\).*/\1/p") && echo "resolved: $lib" &&
  test "$(realpath "$lib")" = /usr/lib/libpoolalloc.so.0' 2>&1)
ok_out $? "a program built with pkg-config poolalloc links /usr/lib/libpoolalloc.so.0 and runs" "$out"
out=$(sb bash -c 'POOLMALLOCSTATS=1 LD_PRELOAD=/usr/lib/libpoolmalloc.so /bin/true 2>&1 >/dev/null' 2>&1)
ok_out "$([[ -n $out ]]; echo $?)" "LD_PRELOAD=/usr/lib/libpoolmalloc.so runs a program (POOLMALLOCSTATS report)" "$out"
# The CPython extension, when the tree builds one, imports in the system Python.
if grep -q '/poold_pymalloc/__init__.py$' "$tmp/files"; then
  out=$(sb /usr/bin/python3 -c 'import poold_pymalloc, sys; print(poold_pymalloc.__file__)' 2>&1)
  ok_out "$([[ $out == /usr/lib/python3/dist-packages/poold_pymalloc/* ]]; echo $?)" \
    "/usr/bin/python3 imports the packaged poold_pymalloc ($out)" "$out"
fi

# The administrator enables the socket; an upgrade (the same package again)
# restarts the running poold.
out=$(sb systemctl enable poold.socket 2>&1)
ok_out $? "systemctl enable poold.socket" "$out"
WANTS=/etc/systemd/system/sockets.target.wants/poold.socket
pid=$(prop MainPID)
out=$(sdpkg -i "$deb_abs" 2>&1)
ok_out $? "dpkg -i again (upgrade)" "$out"
check "the upgrade restarted poold (MainPID $pid -> another)" \
  wait_for 10 bash -c "[[ \$(timeout 5 nsenter -t $SB_PID -a systemctl show -P MainPID poold.service) != $pid ]] &&
                       [[ \$(timeout 5 nsenter -t $SB_PID -a systemctl show -P ActiveState poold.service) == active ]]"
check "curl /metrics answers 200 after the upgrade" wait_for 10 answers_200

# The administrator's edit of the conffile survives removal.
sb sh -c 'echo "log.level = debug" >>/etc/poold/poold.conf'
out=$(sdpkg -r poold 2>&1)
ok_out $? "dpkg -r poold" "$out"
check "dpkg -s: deinstall ok config-files" \
  test "$(sb dpkg-query -W -f='${db:Status-Abbrev}' poold)" = "rc "
gone=()
while read -r f; do
  [[ $f == /etc/* ]] && continue
  [[ -d $tmp/data$f && ! -L $tmp/data$f ]] && continue
  sb test -e "$f" -o -L "$f" && gone+=("$f")
done <"$tmp/files"
ok "$([[ ${#gone[@]} -eq 0 ]]; echo $?)" "dpkg -r removed every packaged file (left: ${gone[*]:-none})"
check "poold.service is gone (LoadState not-found)" test "$(prop LoadState)" = not-found
check "poold.socket is gone (LoadState not-found)" test "$(prop LoadState poold.socket)" = not-found
not_answering() { ! answers_200; }
check "nothing listens on $ADDR any more" not_answering
check "no poold process is left" bash -c "! timeout 5 nsenter -t $SB_PID -a pgrep -x poold"
check "the conffile is kept, with the edit" sb grep -qx 'log.level = debug' /etc/poold/poold.conf
out=$(sdpkg -P poold 2>&1)
ok_out $? "dpkg -P poold" "$out"
check "the socket's enablement is gone after purge (no $WANTS)" sb bash -c "! test -e $WANTS -o -L $WANTS"
check "the conffile and /etc/poold are gone after purge" sb bash -c '! test -e /etc/poold'
check "dpkg knows nothing of poold after purge" bash -c "! timeout 5 nsenter -t $SB_PID -a dpkg-query -W poold"

sb_stop
left=$(sb_leftovers)
ok "$([[ -z $left ]]; echo $?)" "the sandbox left nothing on the machine" || printf '%s\n' "$left" | sed 's/^/#   /'
done_testing

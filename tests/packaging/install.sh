#!/usr/bin/env bash
# make install and make uninstall are twins: everything `make install` puts
# into a DESTDIR, `make uninstall` with the same DESTDIR and PREFIX takes away
# again (and the folders that are poold's alone), for the default prefix and
# for the Debian layout `make deb` uses; a config the administrator edited
# stays, as install keeps it.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/poold-install.XXXXXX)
trap 'rm -rf "$T"' EXIT

mk() { make --no-print-directory -s BUILD="$BUILD" "$@" >>"$T/make.log" 2>&1; }
# Every non-directory under $1, one a line (relative), sorted.
files_under() { (cd "$1" && find . ! -type d | sed 's|^\./||' | sort); }
# Fails, listing them, when anything but the names given after $1 is left.
nothing_left() {
  local dest=$1; shift
  local left
  left=$(comm -23 <(files_under "$dest") <(printf '%s\n' "$@" | sed '/^$/d' | sort))
  [[ -z $left ]] && return 0
  printf '%s\n' "$left" | head -30 | sed 's/^/#   left behind: /'
  return 1
}

# What install must put there under PREFIX $1 and SYSCONFDIR $2 (a sample of
# every install rule: binaries, libraries, header, .pc, units, config, man,
# the Python package and its hook).
expected() {
  local p=${1#/} e=${2#/} site
  site=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [[ $1 == /usr ]] && site=usr/lib/python3/dist-packages || site=$p/lib/python$site/dist-packages
  printf '%s\n' "$p/bin/poold" "$p/bin/pooltrace" "$p/lib/libpoolalloc.a" "$p/lib/libpoolalloc.so.0" \
    "$p/lib/libpoolalloc.so" "$p/lib/libpoolmalloc.so" "$p/include/poolalloc.h" \
    "$p/lib/pkgconfig/poolalloc.pc" "$p/lib/systemd/system/poold.service" "$e/poold/poold.conf" \
    "$p/share/man/man8/poold.8"
  if [[ -x /usr/bin/python3-config ]]; then
    printf '%s\n' "$p/bin/poolpython" "$site/poold_pymalloc.pth" "$site/poold_pymalloc/__init__.py"
  fi
}

round() {
  local prefix=$1 sysconf=$2 dest=$T/dest${1//\//_} missing f
  local vars=(DESTDIR="$dest" PREFIX="$prefix" SYSCONFDIR="$sysconf")
  mk install "${vars[@]}"
  ok $? "make install PREFIX=$prefix SYSCONFDIR=$sysconf DESTDIR=..." || tail -5 "$T/make.log" | sed 's/^/#   /'
  missing=
  while read -r f; do [[ -e $dest/$f || -L $dest/$f ]] || missing+=" $f"; done < <(expected "$prefix" "$sysconf")
  ok "$([[ -z $missing ]]; echo $?)" "it installs every part ($(files_under "$dest" | wc -l) files)${missing:+; missing:$missing}"

  # Byte code the installed Python may write beside ours goes too.
  local cache
  cache=$(dirname "$(find "$dest" -path '*poold_pymalloc/__pycache__/__init__.*.pyc' | head -1)")
  [[ $cache != . ]] && : >"$cache/__init__.cpython-311.opt-1.pyc"

  mk uninstall "${vars[@]}"
  ok $? "make uninstall with the same DESTDIR, PREFIX and SYSCONFDIR" || tail -5 "$T/make.log" | sed 's/^/#   /'
  nothing_left "$dest"
  ok $? "no file is left behind"
  left=$(find "$dest" -depth -type d \( -name poold_pymalloc -o -path "*${sysconf}/poold" \))
  ok "$([[ -z $left ]]; echo $?)" "nor poold's own folders (the Python package, $sysconf/poold)${left:+: $left}"
  mk uninstall "${vars[@]}"
  ok $? "make uninstall again, with nothing installed, succeeds"

  # An edited config is the administrator's: kept, and only it.
  mk install "${vars[@]}" && echo 'workload = steady' >>"$dest$sysconf/poold/poold.conf" &&
    mk uninstall "${vars[@]}"
  ok $? "install, edit the config, uninstall"
  nothing_left "$dest" "${sysconf#/}/poold/poold.conf"
  ok $? "only the edited $sysconf/poold/poold.conf is left"
  grep -q "keeping edited $dest$sysconf/poold/poold.conf" "$T/make.log"
  ok $? "uninstall says it keeps the edited config"
}

round /usr/local /etc
round /usr /etc
# Outputs embedding PREFIX (units, poolalloc.pc) back to the default one.
mk all
done_testing

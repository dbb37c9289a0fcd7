#!/usr/bin/env bash
# Turns a `make install PREFIX=/usr DESTDIR=ROOT` tree into a Debian binary
# package with dpkg-deb (no debhelper):
#   packaging/deb.sh ROOT VERSION ARCH OUT.deb
# Adds what Debian expects of an installed package: compressed man pages, a
# copyright file and changelog, stripped binaries, shared libraries without
# the executable bit, DEBIAN/ with control (Depends computed by
# dpkg-shlibdeps from the binaries), conffiles, md5sums, the ldconfig trigger
# and the maintainer scripts in packaging/.
set -euo pipefail
root=$1 version=$2 arch=$3 out=$4
[[ -d $root ]] || { echo "deb.sh: no directory $root" >&2; exit 1; }
root=$(cd "$root" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
# The Maintainer: Debian's DEBFULLNAME/DEBEMAIL, else the builder's git identity.
name=${DEBFULLNAME:-$(git -C "$project" config user.name 2>/dev/null || echo "poold builder")}
email=${DEBEMAIL:-$(git -C "$project" config user.email 2>/dev/null || echo "root@localhost")}
maintainer="$name <$email>"
# A fixed date (the last commit's) keeps the package the same from build to build.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$project" log -1 --format=%ct 2>/dev/null || date +%s)}

fail() { echo "deb.sh: $*" >&2; exit 1; }
[[ -x $root/usr/bin/poold && -f $root/etc/poold/poold.conf ]] ||
  fail "$root is not a make install PREFIX=/usr tree (no usr/bin/poold or etc/poold/poold.conf)"

# ---- what Debian expects of the installed files ---------------------------
find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9nf {} +
doc=$root/usr/share/doc/poold
install -d "$doc"
# The README and its docs/ pages, laid out as in the tree so its links work.
install -m 644 "$project/README.md" "$doc/README.md"
install -d "$doc/docs"
find "$project/docs" -maxdepth 1 -type f \( -name '*.md' -o -name '*.png' \) -exec install -m 644 {} "$doc/docs/" \;
cat >"$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: poold
Comment: built from the poold source tree with make deb.

Files: *
Copyright: $(date -u -d "@$epoch" +%Y) the poold authors
License: unspecified
 The poold source tree states no license; see its README.md.
COPY
{
  echo "poold ($version) unstable; urgency=medium"
  echo
  echo "  * Built from the poold source tree with make deb."
  echo
  echo " -- $maintainer  $(date -u -R -d "@$epoch")"
} | gzip -9n >"$doc/changelog.gz"
# poolpython links libpython statically (as Debian's own /usr/bin/python3
# does), and libpython carries its copy of expat (pyexpat): say so to lintian.
if [[ -e $root/usr/bin/poolpython ]]; then
  install -d "$root/usr/share/lintian/overrides"
  printf '%s\n' '# libpython3.11.a, linked in statically, carries its own expat' \
    'poold: embedded-library expat [usr/bin/poolpython]' >"$root/usr/share/lintian/overrides/poold"
fi
# ELF files: the binaries, libraries and the Python extension (found by
# their magic, so new ones are not missed).
is_elf() { [[ ! -L $1 && $(head -c4 "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }
elves=()
while IFS= read -r f; do is_elf "$f" && elves+=("$f"); done < <(find "$root/usr" -type f)
for f in "${elves[@]}"; do
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$f"
done
# Byte code is Python's to write at first import, not the package's to ship.
find "$root" -type d -name __pycache__ -prune -exec rm -rf {} +
chmod 644 "$root"/usr/lib/*.so.* "$root"/usr/lib/libpoolmalloc.so
find "$root" -type d -exec chmod 755 {} +

# ---- DEBIAN/ ---------------------------------------------------------------
deb=$root/DEBIAN
install -d "$deb"
install -m 755 "$here/postinst" "$here/prerm" "$here/postrm" "$deb/"
install -m 644 "$here/triggers" "$deb/"
# Programs linking -lpoolalloc depend on this package.
printf 'libpoolalloc 0 poold (>= %s)\n' "$version" >"$deb/shlibs"
# Every file under /etc is a conffile: dpkg keeps the administrator's edits.
(cd "$root" && find etc -type f -printf '/%p\n' | sort) >"$deb/conffiles"

# dpkg-shlibdeps reads the package names from a debian/control of its own.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/debian"
printf 'Source: poold\n\nPackage: poold\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "${elves[@]/#/-e}" 2>"$work/shlibdeps.err" |
          sed -n 's/^shlibs:Depends=//p') ||
  fail "dpkg-shlibdeps: $(cat "$work/shlibdeps.err")"
[[ -n $depends ]] || fail "dpkg-shlibdeps found no dependencies: $(cat "$work/shlibdeps.err")"
# A CPython extension (NAME.cpython-3XY-*.so) needs that Python, 3.X only.
for abi in $(find "$root/usr/lib" -name '*.cpython-3*.so' -printf '%f\n' |
             sed -n 's/.*\.cpython-3\([0-9]*\)-.*/\1/p' | sort -u); do
  depends+=", python3 (>= 3.$abi), python3 (<< 3.$((abi + 1)))"
done

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$deb/control" <<CONTROL
Package: poold
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: pool allocator with live statistics over HTTP
 A pymalloc-style small-object pool allocator for C (libpoolalloc, with
 a header and pkg-config file), an LD_PRELOAD shim that runs any program
 on it (libpoolmalloc.so), and poold, a daemon that serves the
 allocator's live arena, pool and size-class statistics as Prometheus
 metrics and JSON, with systemd units and pooltrace for allocation traces.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
   xargs -0 md5sum) >"$deb/md5sums"
chmod 644 "$deb/control" "$deb/conffiles" "$deb/md5sums" "$deb/shlibs"

mkdir -p "$(dirname "$out")"
fakeroot dpkg-deb -Zxz --build "$root" "$out" >/dev/null
echo "deb.sh: $out ($size KiB installed; Depends: $depends)"

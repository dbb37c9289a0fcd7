#!/usr/bin/env bash
# The man pages: each renders without a warning, and they keep up with the
# programs. What they must name is read from the programs at run time, so a
# new flag, environment variable, subcommand, endpoint or signal without a
# line in its page fails here:
#   poold(8)       every flag of `poold --help`, every page the landing page
#                  links, every signal main.c acts on, every getenv in daemon/
#   poolalloc(3) + poolmalloc(7)   every getenv in allocator/
#   pooltrace(1)   every subcommand and option of `pooltrace --help`
#   poold_pymalloc(7)  every environment variable python/pymalloc/ reads
#   poolpython(1)  every getenv in python/launcher/
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh     # start_poold, TEST_TMP, the EXIT trap
BUILD=${BUILD:-build}
PAGES=(man/poold.8 man/poolalloc.3 man/poolmalloc.7 man/pooltrace.1 man/poolpython.1 man/poold_pymalloc.7)

# The page as plain ASCII text on one very long line width (no hyphenation,
# no line breaks inside a flag), for looking words up.
render() { LC_ALL=C MANWIDTH=1000 man -l "$1" 2>/dev/null | col -bx; }
# has FILE WORD: WORD occurs in FILE, not as part of a longer name.
has() { grep -qE -- "(^|[^[:alnum:]_.-])$(sed 's/[.[\*^$/]/\\&/g' <<<"$2")([^[:alnum:]_-]|\$)" "$1"; }

for p in "${PAGES[@]}"; do
  if [[ ! -f $p ]]; then ok 1 "$p exists"; continue; fi
  w=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
  ok "$([[ -z $w ]]; echo $?)" "man --warnings -l $p: no warnings" ||
    printf '%s\n' "$w" | head -5 | sed 's/^/#   /'
  w=$(groff -ww -z -man "$p" 2>&1)
  ok "$([[ -z $w ]]; echo $?)" "groff -ww -man $p: no warnings" ||
    printf '%s\n' "$w" | head -5 | sed 's/^/#   /'
  render "$p" >"$TEST_TMP/${p##*/}.txt"
  name=${p##*/}; name=${name%.*}
  ok "$(grep -q '^NAME' "$TEST_TMP/${p##*/}.txt" && grep -qi "^ *$name" "$TEST_TMP/${p##*/}.txt"; echo $?)" \
    "$p renders a NAME section for $name"
done
T=$TEST_TMP

# ---- poold(8) ---------------------------------------------------------------
help=$("$BUILD/poold" --help)
mapfile -t flags < <(sed -n 's/^  \(--[a-z0-9][a-z0-9.-]*\).*/\1/p' <<<"$help" | sort -u)
ok "$([[ ${#flags[@]} -ge 20 ]]; echo $?)" "poold --help lists its flags (${#flags[@]})"
for f in "${flags[@]}"; do
  ok "$(has "$T/poold.8.txt" "$f"; echo $?)" "poold(8) describes $f"
done
mapfile -t sigs < <(grep -rhoE 'sig == SIG[A-Z0-9]+' daemon --include='*.c' | awk '{ print $3 }' | sort -u)
ok "$([[ ${#sigs[@]} -ge 3 ]]; echo $?)" "daemon/ acts on signals (${sigs[*]})"
for s in "${sigs[@]}"; do
  ok "$(sed -n '/^SIGNALS/,/^[A-Z]/p' "$T/poold.8.txt" | grep -qw "$s"; echo $?)" "poold(8) SIGNALS names $s"
done
mapfile -t denv < <(grep -rhoE 'getenv\("[A-Z_][A-Z0-9_]*"' daemon --include='*.c' | grep -v FUZZ |
                    sed 's/.*("//; s/"//' | sort -u)
for e in "${denv[@]}"; do
  ok "$(has "$T/poold.8.txt" "$e"; echo $?)" "poold(8) names the environment variable $e"
done
# Every path the running poold's landing page links or loads is an endpoint.
if start_poold --workload=idle; then
  mapfile -t links < <(curl -fsS --max-time 5 "$POOLD_URL/" | grep -oE '(href|src)="/[^"?#]*' | sed 's/^[a-z]*="//' | sort -u)
  stop_poold
  ok "$([[ ${#links[@]} -ge 3 ]]; echo $?)" "the landing page links poold's endpoints (${links[*]})"
  for l in "${links[@]}"; do
    ok "$(sed -n '/^ENDPOINTS/,/^[A-Z]/p' "$T/poold.8.txt" | grep -qE -- "(GET|HEAD) ([^ ]+, )*$l([ ?,]|\$)"; echo $?)" \
      "poold(8) ENDPOINTS describes GET $l"
  done
else
  ok 1 "poold starts to show its landing page"
fi

# ---- poolalloc(3), poolmalloc(7) ----------------------------------------------
mapfile -t aenv < <(grep -rhoE 'getenv\("[A-Z_][A-Z0-9_]*"' allocator --include='*.c' --include='*.h' |
                    sed 's/.*("//; s/"//' | sort -u)
ok "$([[ ${#aenv[@]} -ge 5 ]]; echo $?)" "allocator/ reads environment variables (${#aenv[@]})"
for e in "${aenv[@]}"; do
  ok "$(has "$T/poolalloc.3.txt" "$e" || has "$T/poolmalloc.7.txt" "$e"; echo $?)" \
    "poolalloc(3) or poolmalloc(7) describes $e"
done
# The shim's page covers everything the shim itself reads.
mapfile -t senv < <(grep -rhoE 'getenv\("[A-Z_][A-Z0-9_]*"' allocator/shim | sed 's/.*("//; s/"//' | sort -u)
for e in "${senv[@]}"; do
  ok "$(has "$T/poolmalloc.7.txt" "$e"; echo $?)" "poolmalloc(7) describes $e (read by the shim)"
done
# Every public function of poolalloc.h is in poolalloc(3).
mapfile -t funcs < <(grep -oE '\bpool_[a-z_]+\(' allocator/include/poolalloc.h | tr -d '(' | sort -u)
for fn in "${funcs[@]}"; do
  base=$fn
  [[ $fn =~ ^pool_(raw|mem|obj)_(.*)$ ]] && base="pool_{raw,mem,obj}_${BASH_REMATCH[2]}"
  ok "$(grep -qF -- "$base" "$T/poolalloc.3.txt"; echo $?)" "poolalloc(3) describes $fn"
done

# ---- poold_pymalloc(7), poolpython(1) ---------------------------------------------
# The watcher reads its settings in Python (os.environ, an env mapping, os.getenv) and
# in its start-up hook; the launcher in C.
mapfile -t penv < <(grep -rhoE "(environ|env)(\.get\(|\[)['\"][A-Z_][A-Z0-9_]*['\"]|getenv\(['\"][A-Z_][A-Z0-9_]*['\"]" \
                      python/pymalloc --include='*.py' --include='*.pth' --include='*.c' |
                    sed -E "s/.*[(\[]['\"]//; s/['\"]\$//" | sort -u)
ok "$([[ ${#penv[@]} -ge 3 ]]; echo $?)" "python/pymalloc/ reads environment variables (${penv[*]})"
for e in "${penv[@]}"; do
  ok "$(has "$T/poold_pymalloc.7.txt" "$e"; echo $?)" "poold_pymalloc(7) describes $e"
done
mapfile -t lenv < <(grep -rhoE 'getenv\("[A-Z_][A-Z0-9_]*"' python/launcher --include='*.c' | sed 's/.*("//; s/"//' | sort -u)
for e in "${lenv[@]}"; do
  ok "$(has "$T/poolpython.1.txt" "$e"; echo $?)" "poolpython(1) describes $e (read by the launcher)"
done

# ---- pooltrace(1) -------------------------------------------------------------
thelp=$("$BUILD/pooltrace" --help 2>&1)
mapfile -t subs < <(sed -nE 's/^(usage:)? +pooltrace ([a-z]+) .*/\2/p' <<<"$thelp" | sort -u)
ok "$([[ ${#subs[@]} -ge 3 ]]; echo $?)" "pooltrace --help lists subcommands (${subs[*]})"
for s in "${subs[@]}"; do
  ok "$(grep -qE "^ +pooltrace $s( |\$)" "$T/pooltrace.1.txt" && grep -qE "^ +$s\$|^ +$s " "$T/pooltrace.1.txt"; echo $?)" \
    "pooltrace(1) has $s in SYNOPSIS and DESCRIPTION"
done
mapfile -t topts < <(grep -oE -- '--[a-z][a-z-]*' <<<"$thelp" | sort -u)
for o in "${topts[@]}"; do
  ok "$(has "$T/pooltrace.1.txt" "$o"; echo $?)" "pooltrace(1) describes $o"
done

# ---- make install puts them where man looks ------------------------------------
dest=$TEST_TMP/dest
if make --no-print-directory -s install-man DESTDIR="$dest" PREFIX=/usr >/dev/null 2>&1; then
  for p in "${PAGES[@]}"; do
    n=${p##*/}
    ok "$([[ -f $dest/usr/share/man/man${n##*.}/$n ]]; echo $?)" "make install puts $n in /usr/share/man/man${n##*.}"
  done
  out=$(MANPATH=$dest/usr/share/man man -w poold 2>&1)
  ok "$([[ $out == "$dest/usr/share/man/man8/poold.8" ]]; echo $?)" "man -w poold finds the installed page ($out)"
else
  ok 1 "make install-man DESTDIR=..."
fi
done_testing

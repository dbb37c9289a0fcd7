#!/usr/bin/env bash
# Install the Debian packages a task needs, if any are missing.
#   scripts/deps.sh build|test|bench|fuzz|lint|all
#   scripts/deps.sh check GROUP    only say what is missing (one line, exit 1)
# Idempotent and quick when everything is present (one dpkg-query).
# DPKG_QUERY names the dpkg-query to ask (tests point it at a fake one).
set -euo pipefail

build=(gcc make pkg-config libc6-dev libmicrohttpd-dev libcjson-dev libsystemd-dev python3-dev
       libyaml-dev zlib1g-dev libcrypt-dev)
test=("${build[@]}" curl prometheus python3 python3-yaml python3-dev libpython3.11-testsuite procps psmisc util-linux mount iproute2 systemd
      git coreutils gawk diffutils clang llvm openssl apache2-utils strace chromium python3-websocket
      man-db groff-base bsdextrautils dpkg fakeroot lintian)
bench=("${build[@]}" libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev python3
       python3-dev procps valgrind wrk)
fuzz=("${build[@]}" clang llvm)
lint=(cppcheck)

check=0
if [[ "${1:-}" == check ]]; then check=1; shift; fi
dpkg_query=${DPKG_QUERY:-dpkg-query}

case "${1:-build}" in
  build) want=("${build[@]}") ;;
  test)  want=("${test[@]}") ;;
  bench) want=("${bench[@]}") ;;
  fuzz)  want=("${fuzz[@]}") ;;
  lint)  want=("${lint[@]}") ;;
  all)   want=("${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [check] build|test|bench|fuzz|lint|all" >&2; exit 2 ;;
esac

# Not a Debian system: nothing to ask; the build says what it lacks.
if ! command -v "$dpkg_query" >/dev/null; then exit 0; fi

# One dpkg-query for all of them (every make asks, via `check`). A package
# it does not know prints nothing; one of several architectures counts as
# installed when any is.
declare -A state=()
while read -r pkg status; do
  [[ ${state[$pkg]:-} == installed ]] || state[$pkg]=$status
done < <("$dpkg_query" -W -f='${Package} ${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)
missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
  [[ ${state[$p]:-absent} == installed ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $check -eq 1 ]]; then
  echo "missing Debian packages: ${missing[*]}; install them with \`make deps\` (or, as root, \`scripts/deps.sh ${1:-build}\`)"
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
run=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then run=(sudo); else
    echo "deps: missing packages and not root (no sudo): ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/poold-deps.XXXXXX)
if ! { "${run[@]}" apt-get update -qq && \
       "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get failed installing: ${missing[*]}" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "deps: installed ${#missing[@]} package(s)" >&2

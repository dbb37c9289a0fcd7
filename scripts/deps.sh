#!/usr/bin/env bash
# Install the Debian packages a task needs, if any are missing.
#   scripts/deps.sh build|test|bench|fuzz|all
# Idempotent and quick when everything is present (one dpkg-query).
set -euo pipefail

build=(gcc make pkg-config libc6-dev libmicrohttpd-dev libcjson-dev libsystemd-dev python3-dev
       libyaml-dev zlib1g-dev libcrypt-dev)
test=("${build[@]}" curl prometheus python3 python3-yaml python3-dev libpython3.11-testsuite procps psmisc util-linux mount iproute2 systemd
      git coreutils gawk diffutils clang llvm openssl apache2-utils strace chromium python3-websocket)
bench=("${build[@]}" libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev python3
       python3-dev procps valgrind wrk)
fuzz=("${build[@]}" clang llvm)

case "${1:-build}" in
  build) want=("${build[@]}") ;;
  test)  want=("${test[@]}") ;;
  bench) want=("${bench[@]}") ;;
  fuzz)  want=("${fuzz[@]}") ;;
  all)   want=("${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 build|test|bench|fuzz|all" >&2; exit 2 ;;
esac

missing=()
while read -r pkg status; do
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done < <(for p in "${want[@]}"; do
           s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
           echo "$p ${s:-absent}"
         done | sort -u)

[[ ${#missing[@]} -eq 0 ]] && exit 0

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

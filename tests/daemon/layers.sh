#!/usr/bin/env bash
# daemon-layers: the include rule of daemon/ (written in daemon/daemon.mk):
# daemon/ holds main.c and one folder a layer; a file (sub-folders included)
# includes only headers of its own layer or of layers below it, each by its
# folder-qualified path, and every such header exists.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh

read -ra layers <<<"$(sed -n 's/^DAEMON_LAYERS *:= *//p' daemon/daemon.mk)"
ok $([[ ${#layers[@]} -ge 2 ]]; echo $?) "daemon/daemon.mk names the layers: ${layers[*]}"
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done

stray=$(find daemon -mindepth 1 -maxdepth 1 ! -name main.c ! -name daemon.mk \
          \( -type f -o -type d \) -printf '%f\n' | while read -r f; do
          [[ -d daemon/$f && -n ${rank[$f]:-} ]] || echo "$f"; done)
ok $([[ -z $stray ]]; echo $?) "daemon/ holds main.c, daemon.mk and the layer folders only"
[[ -n $stray ]] && diag "not a layer: $stray"

for layer in "${layers[@]}"; do
  bad=()
  for f in $(find daemon/$layer -name "*.[ch]" | sort); do
    while IFS= read -r inc; do
      dir=${inc%%/*}
      if [[ $inc != */* ]]; then
        compgen -G "daemon/*/$inc" >/dev/null && bad+=("$f: \"$inc\" without its folder")
      elif [[ -z ${rank[$dir]:-} ]]; then
        bad+=("$f: \"$inc\" is not in a layer")
      elif [[ ${rank[$dir]} -lt ${rank[$layer]} ]]; then
        bad+=("$f: \"$inc\" points up (from $layer to $dir)")
      elif [[ ! -e daemon/$inc ]]; then
        bad+=("$f: \"$inc\" does not exist")
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
  ok ${#bad[@]} "daemon/$layer/ includes only its own and lower layers"
  for b in "${bad[@]}"; do diag "$b"; done
done

# main.c may include any layer, but by folder too
bad=$(sed -n 's/^#include "\([^"/]*\)".*/\1/p' daemon/main.c | while read -r inc; do
        compgen -G "daemon/*/$inc" >/dev/null && echo "$inc"; done)
ok $([[ -z $bad ]]; echo $?) "daemon/main.c names the folder of every daemon header"
done_testing

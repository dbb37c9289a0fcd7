#!/bin/sh
# embed.sh OUT FILE...: writes OUT, C source defining for every FILE
#   static const unsigned char asset_NAME[] = { ... };
# (NAME: the file name with every non-alphanumeric character as _), so
# the live page's files are part of the binary. od is in every base system.
set -e
out=$1; shift
tmp=$out.tmp
: >"$tmp"
for f in "$@"; do
  name=$(basename "$f" | tr -c 'A-Za-z0-9\n' '_')
  printf 'static const unsigned char asset_%s[] = {\n' "$name" >>"$tmp"
  od -An -v -tx1 "$f" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' >>"$tmp"
  printf '};\n' >>"$tmp"
done
mv "$tmp" "$out"

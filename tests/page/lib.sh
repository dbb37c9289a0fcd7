# Helpers for the page suite and its measurement (source after tests/observe/lib.sh):
#   large_process K DIR   a process of 11*K arenas: a sleeping process whose segment in DIR is
#                         the committed python3 seed scaled K times (consistent figures, no
#                         memory), kept fresh every second; sets BIG to its pid
large_process() {
  local k=$1 dir=$2 seg
  sleep 600 & BIG=$!; TEST_PIDS+=("$BIG")
  seg=$dir/poolmalloc.$BIG
  /usr/bin/python3 tests/observe/mksegment.py tests/fuzz/corpus/segment/python3-v2 "$TMP/big" scale="$k"
  /usr/bin/python3 tests/observe/mksegment.py "$TMP/big" "$seg" pid="$BIG" start=now updated=now
  # it must keep publishing, or it goes stale after 5 s
  ( while sleep 1; do
      /usr/bin/python3 tests/observe/mksegment.py "$seg" "$TMP/big.new" updated=now && mv "$TMP/big.new" "$seg"
    done ) & TEST_PIDS+=($!)
}

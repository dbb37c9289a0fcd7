#!/usr/bin/env bash
# A git session for the preload-shim suite: init, commits with fixed
# authors and dates (so the hashes are the same on every run), a branch and
# a merge, log, fsck and gc. Prints only what git computes.
set -e
dir=$(mktemp -d /tmp/poold-git.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export HOME=$dir GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.org
export GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.org
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
cd "$dir"
git init -q -b main repo
cd repo
for i in $(seq 1 60); do
  seq "$i" $((i * 40)) >"file$i.txt"
done
git add . && git commit -q -m "first"
git checkout -q -b side
for i in $(seq 1 20); do echo "side $i" >>"file$i.txt"; done
git commit -q -am "side"
git checkout -q main
for i in $(seq 40 60); do echo "main $i" >>"file$i.txt"; done
git commit -q -am "main"
git merge -q --no-edit side
git log --format='%H %s' --graph
git diff --stat HEAD~2 HEAD | tail -1
git fsck --full --strict 2>&1
git gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs)'
git rev-parse HEAD^{tree}

#!/usr/bin/env bash
# PID 1 of the test sandbox's new namespaces (pid, mount, uts, ipc, net,
# cgroup); started by sandbox.sh. Builds a throwaway root, an overlay whose
# lower layer is the machine's / and whose upper layer is a tmpfs only this
# mount namespace sees, and execs systemd in it with a target of our own that
# pulls in nothing but journald. Nothing written here reaches the real root.
#   sandbox-init.sh DIR TARGET
# DIR: an empty directory to mount the tmpfs on; TARGET: the unit to boot.
set -euo pipefail
dir=$1 target=$2
project=$(cd "$(dirname "$0")/../.." && pwd)

# Mounts made from here on stay in this namespace.
mount --make-rprivate /
mount -t tmpfs -o mode=0700 poold-sandbox "$dir"
mkdir "$dir"/{upper,work,root}
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
root=$dir/root

# /proc with the host-wide knobs read-only, and a sysfs of this network
# namespace, read-only, without the host's cgroup mounts: systemd mounts its
# own cgroup2 there, rooted at the cgroup namespace sandbox.sh set up, so its
# units cannot touch the host's cgroups (or another sandbox's).
mount -t proc proc "$root/proc"
for p in sys sysrq-trigger; do
  [[ -e "$root/proc/$p" ]] || continue
  mount --bind "$root/proc/$p" "$root/proc/$p"
  mount -o remount,bind,ro "$root/proc/$p"
done
mount -t sysfs -o ro sysfs "$root/sys"
# A /dev of the usual nodes only: no /dev/kmsg (the sandbox's journald would
# write into the machine's kernel log), and a console that is a file of ours.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for n in null zero full random urandom tty; do
  touch "$root/dev/$n"
  mount --bind "/dev/$n" "$root/dev/$n"
done
touch "$dir/console" "$root/dev/console"
mount --bind "$dir/console" "$root/dev/console"
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
# The project tree may live where a fresh tmpfs now hides it (CI clones into
# /tmp): give the sandbox a copy-on-write view of it at the same path.
if [[ ! -d "$root$project" ]]; then
  mkdir -p "$dir"/{pupper,pwork} "$root$project"
  mount -t overlay overlay -o "lowerdir=$project,upperdir=$dir/pupper,workdir=$dir/pwork" \
    "$root$project"
fi

# The minimal target: journald and nothing else (never multi-user.target, whose
# tmpfiles and services would run against the real machine's state).
mkdir -p "$root/etc/systemd/system"
cat >"$root/etc/systemd/system/$target" <<UNIT
[Unit]
Description=poold test sandbox
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
After=systemd-journald.socket systemd-journald.service
AllowIsolate=yes
UNIT

ip link set lo up

cd "$root"
mkdir -p oldroot
pivot_root . oldroot
cd /
umount -l /oldroot
# systemd.unified_cgroup_hierarchy=1 (read from PID 1's own command line in a
# container): a pure cgroup2 manager, as on a Debian 12 server, even where the
# host keeps v1 controllers; it is also what IPAddressDeny= (BPF) needs.
exec env -i container=poold-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit="$target" --log-target=journal --log-level=info \
  systemd.unified_cgroup_hierarchy=1

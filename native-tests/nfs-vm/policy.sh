# Export-policy workload for native-tests/nfs-kernel-server.test.ts: runs in the guest (busybox
# sh, as root) with $1 = the mounted pseudo root "/", under which the kernel client crosses into
# each export. The test prepared: /ro (read-only, holds seed.txt), /squash (root squash to
# 4321:4322, root directory 1777, holds locked/ owned by uid 1000, mode 0755), /hidden (allowed
# clients 10.0.0.0/8 only; the guest reaches the server from 127.0.0.1).
M=$1
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
fresh() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# Redirections of a failing command are wrapped in { } so its message lands in /tmp/err; rm gets
# -f because stdin is the console, where busybox rm would ask about a write-protected file.

check pseudo-root-lists "$(ls $M | tr '\n' ' ')" "default ro squash v40 "
check ro-read "$(cat $M/ro/seed.txt)" seed
{ echo x > $M/ro/new.txt; } 2>/tmp/err; check ro-create "$? $(grep -c 'Read-only file system' /tmp/err)" "1 1"
rm -f $M/ro/seed.txt 2>/tmp/err; check ro-remove "$? $(grep -c 'Read-only file system' /tmp/err)" "1 1"
mkdir $M/ro/d 2>/tmp/err; check ro-mkdir "$? $(grep -c 'Read-only file system' /tmp/err)" "1 1"
chmod 600 $M/ro/seed.txt 2>/tmp/err; check ro-chmod "$? $(grep -c 'Read-only file system' /tmp/err)" "1 1"
fresh; check ro-unchanged "$(cat $M/ro/seed.txt) $(stat -c %a $M/ro/seed.txt)" "seed 644"

echo hi > $M/squash/by-root.txt; fresh
check squash-owner "$(stat -c %u:%g $M/squash/by-root.txt)" "4321:4322"
chown 0:0 $M/squash/by-root.txt 2>/tmp/err; check squash-chown "$? $(grep -c 'Operation not permitted' /tmp/err)" "1 1"
{ echo x > $M/squash/locked/f; } 2>/tmp/err; check squash-create-denied "$? $(grep -c 'Permission denied' /tmp/err)" "1 1"
chmod 777 $M/squash/locked 2>/tmp/err; check squash-chmod-denied "$? $(grep -c 'Operation not permitted' /tmp/err)" "1 1"
check squash-locked-empty "$(ls $M/squash/locked | wc -l | tr -d ' ')" 0
ls $M/hidden >/dev/null 2>&1; check hidden-not-reachable $? 1
echo "WORKLOAD: done"

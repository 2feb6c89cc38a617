# Workload for native-tests/nfs-kernel.test.ts: runs in the guest (busybox sh) with $1 = mount
# point. Prints "CHECK <name> ok" or "CHECK <name> FAIL got=[..] want=[..]" per check; the test
# parses them. Caches are dropped before reads that must come from the server.
M=$1
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
fresh() { sync; echo 3 > /proc/sys/vm/drop_caches; }

echo hello > $M/a.txt; echo more >> $M/a.txt; fresh
check write-append "$(cat $M/a.txt | tr '\n' ' ')" "hello more "
mkdir $M/d && mkdir $M/d/e; check mkdir "$(ls $M/d)" "e"
mv $M/a.txt $M/d/b.txt; check rename-across "$(head -1 $M/d/b.txt)" hello
check rename-source-gone "$(ls $M | grep -c a.txt)" 0
echo other > $M/d/c.txt; mv $M/d/c.txt $M/d/b.txt; fresh; check rename-over "$(cat $M/d/b.txt)" other
chmod 640 $M/d/b.txt; fresh; check chmod "$(stat -c %a $M/d/b.txt)" 640
ln -s b.txt $M/d/link; check symlink "$(readlink $M/d/link)" b.txt; check symlink-follow "$(cat $M/d/link)" other
ln $M/d/b.txt $M/d/hard; fresh; check hardlink-nlink "$(stat -c %h $M/d/b.txt)" 2
truncate -s 3 $M/d/b.txt; fresh; check truncate "$(cat $M/d/hard)" oth
truncate -s 100000 $M/d/b.txt; fresh; check extend "$(stat -c %s $M/d/hard)" 100000
rm $M/d/hard; fresh; check unlink-nlink "$(stat -c %h $M/d/b.txt)" 1
rmdir $M/d 2>/dev/null; check rmdir-nonempty $? 1
rmdir $M/d/e; check rmdir "$(ls $M/d | grep -c '^e$')" 0
dd if=/dev/urandom of=/tmp/random bs=64k count=40 2>/dev/null
cp /tmp/random $M/big; fresh
check checksum-2.5MiB "$(md5sum < $M/big)" "$(md5sum < /tmp/random)"
dd if=/dev/zero of=$M/big bs=1 count=4 seek=1000 conv=notrunc 2>/dev/null; fresh
check overwrite-middle "$(dd if=$M/big bs=1 skip=1000 count=4 2>/dev/null | od -An -tx1 | tr -d ' ')" 00000000
exec 3>$M/open.txt; echo before >&3; rm $M/open.txt; echo after >&3; exec 3>&-
check unlink-while-open "$(ls -a $M | grep -c open.txt)" 0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do touch $M/d/f$i; done; fresh
check readdir-count "$(ls $M/d | wc -l | tr -d ' ')" 22
if [ -x /extra/lockfile ]; then  # two processes = two lock owners of one client
  held() { i=0; while [ ! -f $1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; }
  /extra/lockfile $M/lock hold /tmp/held1 /tmp/release1 & held /tmp/held1
  /extra/lockfile $M/lock try; check fcntl-lock-held $? 1
  touch /tmp/release1; wait; /extra/lockfile $M/lock try; check fcntl-lock-released $? 0
  /extra/lockfile $M/lock flock-hold /tmp/held2 /tmp/release2 & held /tmp/held2
  /extra/lockfile $M/lock flock-try; check flock-held $? 1
  touch /tmp/release2; wait; /extra/lockfile $M/lock flock-try; check flock-released $? 0
fi
check df "$(df $M | tail -1 | awk '{print ($2 > 0)}')" 1
# What nfs-utils' mount.nfs does without vers=: ask for 4.2 and, on EPROTONOSUPPORT (the server
# answers NFS4ERR_MINOR_VERS_MISMATCH), fall back to 4.1. busybox mount does not negotiate.
src=$(grep " $M " /proc/mounts | cut -d' ' -f1); o=proto=tcp,port=2049,addr=10.0.2.100,clientaddr=127.0.0.1
mkdir -p /mnt/v42
mount -t nfs4 -o vers=4.2,$o $src /mnt/v42 2>/tmp/err; rc=$?
check v42-refused "$([ $rc -ne 0 ] && echo failed) $(grep -c 'Protocol not supported' /tmp/err)" "failed 1"
mount -t nfs4 -o vers=4.1,$o $src /mnt/v42; check v41-fallback "$(ls /mnt/v42/big)" /mnt/v42/big
umount /mnt/v42
echo "WORKLOAD: done"

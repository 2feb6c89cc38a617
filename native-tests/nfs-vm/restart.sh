# Restart workload for native-tests/nfs-kernel-restart.test.ts: runs in the guest (busybox sh)
# with $1 = mount point. Writes a file and takes an fcntl lock in a holder process, prints
# RESTART-NOW, and waits until the test has killed and restarted the server and made the
# directory "restarted" (CREATE is allowed during the grace period). Then the lock must still be
# held (the kernel reclaimed it), the data intact, and the export usable.
M=$1
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
fresh() { sync; echo 3 > /proc/sys/vm/drop_caches; }
held() { i=0; while [ ! -f $1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; }

dd if=/dev/urandom of=/tmp/data bs=64k count=16 2>/dev/null
cp /tmp/data $M/data; sync
/extra/lockfile $M/lock hold /tmp/held /tmp/release & held /tmp/held
/extra/lockfile $M/lock try; check lock-held-before $? 1
echo "RESTART-NOW"
i=0; while [ ! -d $M/restarted ] && [ $i -lt 600 ]; do sleep 0.5; fresh; i=$((i+1)); done
check restarted "$([ -d $M/restarted ] && echo yes)" yes
/extra/lockfile $M/lock try; check lock-kept-across-restart $? 1
fresh; check data-intact "$(md5sum < $M/data)" "$(md5sum < /tmp/data)"
touch /tmp/release; wait $!; check holder-exit $? 0
/extra/lockfile $M/lock try; check lock-released $? 0
echo after > $M/after.txt; fresh; check write-after-restart "$(cat $M/after.txt)" after
echo "WORKLOAD: done"

# Close-to-open consistency between the kernel client (this guest) and a second client on the
# host (libnfs-utils), for native-tests/nfs-kernel-cto.test.ts. $1 = mount point of /default.
# The host prepared h2g.bin (v1), h2g.md5 (its md5) and signal ("v1").
#  1. The guest writes g2h.bin and closes it, then prints its md5: the host reads it whole.
#  2. The guest reads h2g.bin (now in its page cache) and checks it against h2g.md5.
#  3. It prints CTO-READ-V1; the host overwrites h2g.bin in place (same size, other bytes),
#     rewrites h2g.md5, then signal ("v2"). The guest re-opens signal until it reads v2 (each
#     open revalidates with the server), then re-opens h2g.bin: it must see v2, not its cache.
M=$1
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }

dd if=/dev/urandom of=$M/g2h.bin bs=64k count=32 2>/dev/null
echo "CTO-G2H $(md5sum < $M/g2h.bin | cut -d' ' -f1)"
check h2g-v1 "$(md5sum < $M/h2g.bin | cut -d' ' -f1)" "$(cat $M/h2g.md5)"
echo "CTO-READ-V1"
i=0; while [ "$(cat $M/signal)" != v2 ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done
check signal-seen "$(cat $M/signal)" v2
check h2g-v2 "$(md5sum < $M/h2g.bin | cut -d' ' -f1)" "$(cat $M/h2g.md5)"
echo "WORKLOAD: done"

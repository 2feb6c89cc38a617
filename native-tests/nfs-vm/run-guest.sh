#!/bin/bash
# Boot a Debian kernel under qemu (TCG by default), mount an NFS export served on
# host loopback, run a workload script in the guest, power off.
# Usage: run-guest.sh [-p HOSTPORT] [-v 4.0|4.1|4.2] [-e /export] [-w workload.sh]
#                     [-o extra,mount,opts] [-a tcg|kvm] [-s SMP] [-t TIMEOUT_S] [-x FILE]...
# -x copies FILE into the guest as /extra/<name> (static helper binaries for the workload).
# (Copied from the team recipe ../shared/recipes/nfs-kernel-client, plus -x.)
# Networking: slirp with restrict=on (guest cannot reach anything) plus
#   guestfwd 10.0.2.100:2049 -> socat -> 127.0.0.1:HOSTPORT   (NFS fore channel)
#   hostfwd  127.0.0.1:CBPORT -> guest:CBPORT                 (NFSv4.0 callback channel;
#            the guest mounts with clientaddr=127.0.0.1 and nfs.callback_tcpport=CBPORT)
# So the only sockets opened on the host are on 127.0.0.1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=12049; VERS=4.0; EXPORT=/export; WORKLOAD=; MOPTS=; ACCEL=tcg; SMP=2; TMO=600; CBPORT=13049; EXTRAS=()
while getopts p:v:e:w:o:a:s:t:c:x: o; do case $o in
  p) PORT=$OPTARG;; v) VERS=$OPTARG;; e) EXPORT=$OPTARG;; w) WORKLOAD=$OPTARG;;
  o) MOPTS=$OPTARG;; a) ACCEL=$OPTARG;; s) SMP=$OPTARG;; t) TMO=$OPTARG;; c) CBPORT=$OPTARG;; x) EXTRAS+=("$OPTARG");;
  *) sed -n 2,12p "$0"; exit 2;; esac; done
K=${KVER:-$(ls /lib/modules | sort -V | tail -1)}
BASE=${NFSVM_CACHE:-/tmp/nfs-vm-cache}/base.cpio.gz
[ -f "$BASE" ] || "$HERE/build-initramfs.sh" "$BASE" >/dev/null
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cp "$BASE" "$T/initrd"
if [ -n "$WORKLOAD" ]; then  # append a second cpio member carrying /workload.sh (and /extra/*)
  mkdir -p "$T/w/extra"; cp "$WORKLOAD" "$T/w/workload.sh"
  for f in ${EXTRAS[@]+"${EXTRAS[@]}"}; do cp "$f" "$T/w/extra/"; done
  (cd "$T/w" && find . -mindepth 1 | sed 's|^\./||' | cpio -o -H newc --quiet | gzip -1) >> "$T/initrd"
fi
CPU=${QCPU:-max}; [ "$ACCEL" = kvm ] && CPU=${QCPU:-host}
exec timeout "$TMO" qemu-system-x86_64 -M pc -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m ${QMEM:-2048} \
  -bios /usr/share/qemu/qboot.rom -nodefaults -display none -no-reboot -monitor none -serial stdio \
  -kernel "/boot/vmlinuz-$K" -initrd "$T/initrd" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 tsc=reliable no_timer_check nfsvers=$VERS nfsport=2049 nfsexport=$EXPORT cbport=$CBPORT${MOPTS:+ mopts=$MOPTS}" \
  -netdev "user,id=n0,restrict=on,net=10.0.2.0/24,guestfwd=tcp:10.0.2.100:2049-cmd:socat STDIO TCP4:127.0.0.1:$PORT,hostfwd=tcp:127.0.0.1:$CBPORT-10.0.2.15:$CBPORT" \
  -device virtio-net-pci,netdev=n0 </dev/null

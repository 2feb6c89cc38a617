// The Linux kernel NFS client (Debian's kernel under qemu, see native-tests/nfs-vm/) mounts an
// export of the NFS server on an in-memory file service with vers=4.1 and runs a POSIX workload:
// write/append, mkdir, rename (across directories, over a file), chmod, symlink, hard link,
// truncate/extend, rmdir, a 2.5 MiB checksum, unlink while open, readdir, fcntl and flock locks
// between two processes (a static helper built with cc when available), df.
// One boot (~20-40 s under emulation). Skips cleanly when qemu, a kernel, busybox or socat is
// missing (.ci/run installs them).
import t from 'tap'
import { join } from 'node:path'
import { startNfsServer } from '../src/nfs/index.ts'
import { silentNfsLogger } from '../src/nfs/log.ts'
import { MemoryFileService } from '../src/nfs/testing/memory-fs.ts'
import { buildLockHelper, runGuest, vmDir, vmUnavailable } from './helpers/nfs-vm.ts'

const unavailable = await vmUnavailable()
if (unavailable !== undefined) t.plan(0, unavailable)

t.test('kernel client, NFSv4.1: POSIX workload', { timeout: 400_000 }, async (t) => {
  const files = new MemoryFileService({ fileSystems: [{ name: 'export' }] })
  const bugs: Error[] = []
  const server = await startNfsServer({ files, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, graceMs: 0, onBug: (error) => bugs.push(error) })
  t.teardown(() => server.close(100))
  const lockHelper = await buildLockHelper(t)
  if (lockHelper === undefined) t.comment('no C compiler: fcntl/flock checks skipped')
  const { code, output, checks } = await runGuest({ port: server.port, version: '4.1', exportPath: '/export', workload: join(vmDir, 'workload.sh'), extras: lockHelper === undefined ? [] : [lockHelper], timeoutMs: 360_000 })
  t.match(output, /vers=4\.1/, 'mounted with NFSv4.1')
  t.ok(output.includes('WORKLOAD: done') && output.includes('GUEST: workload rc=0'), 'the workload ran to the end')
  t.ok(checks.length >= 20, `${checks.length} checks reported`)
  for (const line of checks) t.match(line, / ok$/, line)
  t.ok(output.includes('GUEST: unmounted'), 'unmounted cleanly')
  t.same(bugs.map((bug) => bug.message), [], 'no server bug')
  if (!output.includes('WORKLOAD: done')) t.comment(output.slice(-4000))
  t.equal(code, 0, 'qemu exited normally')
  // What the guest left behind, seen through the file service.
  const root = { uid: 0, gid: 0, gids: [] }
  const exportRoot = (await files.findFileSystem('export'))!.rootHandle
  const d = await files.lookup(root, exportRoot, 'd')
  const b = await files.lookup(root, d.handle, 'b.txt')
  t.same([b.attributes.sizeBytes, b.attributes.mode, b.attributes.nlink], [100000, 0o640, 1])
  t.equal((await files.lookup(root, exportRoot, 'big')).attributes.sizeBytes, 40 * 64 * 1024)
})

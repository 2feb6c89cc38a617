// The Linux kernel NFS client (Debian's kernel under qemu, see native-tests/nfs-vm/) mounts an
// export of the NFS server on an in-memory file service with vers=4.1 and runs a POSIX workload:
// write/append, mkdir, rename (across directories, over a file), chmod, symlink, hard link,
// truncate/extend, rmdir, a 2.5 MiB checksum, unlink while open, readdir, fcntl and flock locks
// between two processes (a static helper built with cc when available), df.
// One boot (~20-40 s under emulation). Skips cleanly when qemu, a kernel, busybox or socat is
// missing (.ci/run installs them).
import t, { type Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startNfsServer } from '../src/nfs/index.ts'
import { silentNfsLogger } from '../src/nfs/log.ts'
import { MemoryFileService } from '../src/nfs/testing/memory-fs.ts'
import { repoRoot } from './helpers/server.ts'

const vmDir = join(repoRoot, 'native-tests', 'nfs-vm')
const haveCommands = await promisify(execFile)('sh', ['-c', 'command -v qemu-system-x86_64 && command -v socat && command -v modprobe && test -x /bin/busybox'])
  .then(() => true, () => false)
const kernels = existsSync('/boot') ? readdirSync('/boot').filter((name) => name.startsWith('vmlinuz-')) : []
const modules = existsSync('/lib/modules') ? readdirSync('/lib/modules') : []
if (!haveCommands || kernels.length === 0 || modules.length === 0 || !existsSync('/usr/share/qemu/qboot.rom')) {
  t.plan(0, 'needs qemu-system-x86, linux-image-amd64, busybox-static and socat (see native-tests/nfs-vm)')
}

/** A static helper for fcntl/flock checks, when a C compiler is at hand (else those checks are skipped). */
async function buildLockHelper(t: Test): Promise<string | undefined> {
  const dir = t.testdir()
  const output = join(dir, 'lockfile')
  return promisify(execFile)('cc', ['-static', '-O2', '-o', output, join(vmDir, 'lockfile.c')]).then(() => output, () => undefined)
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

function runGuest(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(vmDir, 'run-guest.sh'), args, { env: { ...process.env, NFSVM_CACHE: process.env.NFSVM_CACHE ?? '/tmp/cairn-nfs-vm-cache' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

t.test('kernel client, NFSv4.1: POSIX workload', { timeout: 400_000 }, async (t) => {
  const files = new MemoryFileService({ fileSystems: [{ name: 'export' }] })
  const bugs: Error[] = []
  const server = await startNfsServer({ files, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, graceMs: 0, onBug: (error) => bugs.push(error) })
  t.teardown(() => server.close(100))
  const callbackPort = await freePort()
  const lockHelper = await buildLockHelper(t)
  if (lockHelper === undefined) t.comment('no C compiler: fcntl/flock checks skipped')
  const args = ['-p', String(server.port), '-v', '4.1', '-e', '/export', '-w', join(vmDir, 'workload.sh'), '-c', String(callbackPort), '-t', '360']
  const { code, output } = await runGuest(lockHelper === undefined ? args : [...args, '-x', lockHelper], 380_000)
  const checks = output.replaceAll('\r', '').split('\n').filter((line) => line.startsWith('CHECK '))
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

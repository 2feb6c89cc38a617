// The Linux kernel NFS client (qemu guest, native-tests/nfs-vm/) against the real `cairn server`
// process and its files engine (chunk store + LevelDB), not the in-memory file service: the
// POSIX workload of nfs-kernel.test.ts once with vers=4.1 on /default and once with vers=4.0 on
// a file system made with `cairn fs create`. What the guest left behind is then checked through
// the server with the protocol test client, and the server stops cleanly (exit 0, no bug).
// Two boots of ~30-60 s each under TCG (emulation). Skips cleanly when qemu, a kernel,
// busybox or socat is missing (.ci/run installs them).
import t from 'tap'
import { join } from 'node:path'
import { ops } from '../src/nfs/testing/nfs-client.ts'
import { attr } from '../src/nfs/v4/constants.ts'
import { NfsWriter, nfsPortOf } from './helpers/nfs.ts'
import { buildLockHelper, runGuest, vmAccel, vmDir, vmUnavailable } from './helpers/nfs-vm.ts'
import { runCli, startCairn } from './helpers/server.ts'

const unavailable = await vmUnavailable()
if (unavailable !== undefined) t.plan(0, unavailable)

const env = { CAIRN_ROOT_ACCESS_KEY: 'NFSKERNELACCESSKEY01', CAIRN_ROOT_SECRET_KEY: 'nfs-kernel-secret-key' }

t.test('kernel client against cairn server: vers=4.1 and vers=4.0 workloads', { timeout: 600_000 }, async (t) => {
  // No grace period: nothing to reclaim on a fresh data dir, and the guest mounts at once.
  const server = await startCairn(t, { env, args: ['--nfs-grace-seconds', '0'] })
  const port = nfsPortOf(server)
  const created = await runCli(['fs', 'create', 'v40', '--json'], { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
  t.equal(created.code, 0, created.stderr)
  const lockHelper = await buildLockHelper(t)
  if (lockHelper === undefined) t.comment('no C compiler: fcntl/flock checks skipped')
  t.comment(`qemu accelerator: ${vmAccel()}`)

  for (const [version, exportPath] of [['4.1', '/default'], ['4.0', '/v40']] as const) {
    const started = Date.now()
    const run = await runGuest({ port, version, exportPath, workload: join(vmDir, 'workload.sh'), extras: lockHelper === undefined ? [] : [lockHelper], timeoutMs: 240_000 })
    t.comment(`vers=${version}: ${Math.round((Date.now() - started) / 1000)} s`)
    t.match(run.output, new RegExp(`vers=${version.replace('.', '\\.')}`), `mounted ${exportPath} with NFSv${version}`)
    t.ok(run.output.includes('WORKLOAD: done') && run.output.includes('GUEST: workload rc=0'), `vers=${version}: the workload ran to the end`)
    t.ok(run.checks.length >= 20, `vers=${version}: ${run.checks.length} checks reported`)
    for (const line of run.checks) t.match(line, / ok$/, `vers=${version}: ${line}`)
    t.ok(run.output.includes('GUEST: unmounted'), `vers=${version}: unmounted cleanly`)
    if (!run.output.includes('WORKLOAD: done')) t.comment(run.output.slice(-4000))
    t.equal(run.code, 0, 'qemu exited normally')
  }

  // What the guests left in the engine, read back over NFS by another client.
  const reader = await NfsWriter.connect(port, 'kernel-test-reader')
  t.teardown(() => reader.close())
  for (const exportPath of ['/default', '/v40']) {
    const attributes = async (path: string) => (await reader.client.ok([ops.putfh(await reader.handle(path)), ops.getattr([attr.SIZE, attr.MODE, attr.NUMLINKS])]))[1] as Record<string, unknown>
    t.match(await attributes(`${exportPath}/d/b.txt`), { size: 100000n, mode: 0o640, numlinks: 1 }, `${exportPath}/d/b.txt: truncated, extended, chmod, one link left`)
    t.match(await attributes(`${exportPath}/big`), { size: BigInt(40 * 64 * 1024) }, `${exportPath}/big: 2.5 MiB`)
  }
  const exit = await server.stop('SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'the server stops cleanly after both guests')
  t.notMatch(server.stderr(), /"level":"(fatal|error)"/, 'no errors or bugs in the server log')
})

// The Linux kernel NFS client (qemu guest, native-tests/nfs-vm/) against the real `cairn server`
// process and its files engine (chunk store + LevelDB), not the in-memory file service: the
// POSIX workload of nfs-kernel.test.ts once with vers=4.1 on /default and once with vers=4.0 on
// a file system made with `cairn fs create`. What the guest left behind is then checked through
// the server with the protocol test client. A third boot mounts the pseudo root and checks the
// export policies as the kernel sees them (read-only: EROFS; root squash: files owned by the
// anonymous uid/gid, EPERM/EACCES; a disallowed export is not listed). The server then stops
// cleanly (exit 0, no bug). Three boots of ~30 s each under TCG (emulation). Skips cleanly when qemu, a kernel,
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

t.test('kernel client against cairn server: vers=4.1 and vers=4.0 workloads, export policies', { timeout: 600_000 }, async (t) => {
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

  // Export policies seen by the kernel client: one boot mounts the pseudo root and crosses into
  // a read-only export, a root-squashed one, and one this address may not use.
  const fs = async (...words: string[]) => {
    const result = await runCli(['fs', ...words, '--json'], { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
    t.equal(result.code, 0, `cairn fs ${words.join(' ')}: ${result.stderr}`)
  }
  await fs('create', 'ro')
  await reader.writeFile(await reader.handle('/ro'), 'seed.txt', Buffer.from('seed\n'))
  await fs('modify', 'ro', '--read-only')
  await fs('create', 'squash', '--root-squash', '--anonymous-uid', '4321', '--anonymous-gid', '4322', '--root-mode', '1777')
  reader.client.rpc.credential = { flavor: 'sys', stamp: 1, machineName: 'kernel-test-reader', uid: 1000, gid: 1000, gids: [] }
  await reader.mkdir(await reader.handle('/squash'), 'locked')
  await fs('create', 'hidden', '--allowed-clients', '10.0.0.0/8')
  const started = Date.now()
  const policy = await runGuest({ port, version: '4.1', exportPath: '/', workload: join(vmDir, 'policy.sh'), timeoutMs: 240_000 })
  t.comment(`export policies (vers=4.1, pseudo root): ${Math.round((Date.now() - started) / 1000)} s`)
  t.ok(policy.output.includes('WORKLOAD: done'), 'the policy workload ran to the end')
  t.ok(policy.checks.length >= 13, `${policy.checks.length} policy checks reported`)
  for (const line of policy.checks) t.match(line, / ok$/, `policy: ${line}`)
  if (!policy.output.includes('WORKLOAD: done')) t.comment(policy.output.slice(-4000))

  const exit = await server.stop('SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'the server stops cleanly after the guests')
  t.notMatch(server.stderr(), /"level":"(fatal|error)"/, 'no errors or bugs in the server log')
})

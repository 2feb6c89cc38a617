// The real `cairn server` with its NBD listeners: a volume created through the admin API is
// written over TCP with FLUSH and FUA, the server is killed with SIGKILL, and after a restart
// the flushed data reads back over the Unix socket. Also: LIST shows the volume, and SIGTERM
// with a client connected stops within the grace period. Skips while the engine has no volumes
// layer (the server then logs that NBD is not started) or a tool is missing.
import t from 'tap'
import { join } from 'node:path'
import { runTool, skipUnless } from '../src/nbd/testing/tools.ts'
import { basicAuth, startCairn, tempDir, type CairnServer } from './helpers/server.ts'

const env = { CAIRN_ROOT_ACCESS_KEY: 'TESTROOTACCESSKEY', CAIRN_ROOT_SECRET_KEY: 'test-root-secret-key' }
const authorization = basicAuth(env.CAIRN_ROOT_ACCESS_KEY, env.CAIRN_ROOT_SECRET_KEY)

/** The nbd:// URL the server logged, or undefined when it logged that NBD is not started. */
async function nbdUrl(server: CairnServer): Promise<string | undefined> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (server.urls.nbd !== undefined) return server.urls.nbd
    if (server.logLines().some((line) => line.listener === 'nbd' && line.level === 'warn')) return undefined
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no NBD listener line in the log:\n${server.stderr()}`)
}

async function createVolume(server: CairnServer): Promise<string> {
  const response = await fetch(`${server.adminUrl}/admin/v1/volumes`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ size: '1GiB', description: 'nbd end to end' }),
  })
  const body = (await response.json()) as { volumeId?: string; exportName?: string }
  if (response.status !== 201 || body.exportName === undefined) throw new Error(`volume create: ${response.status} ${JSON.stringify(body)}`)
  return body.exportName
}

t.test('flushed and FUA writes survive SIGKILL; LIST; SIGTERM with a client attached', { skip: skipUnless('qemu-io', 'nbdinfo', 'nbdsh') }, async (t) => {
  const dataDir = tempDir(t)
  const socketPath = join(dataDir, 'nbd.sock')
  const args = ['--nbd-socket', socketPath]
  const first = await startCairn(t, { dataDir, args, env })
  const tcp = await nbdUrl(first)
  if (tcp === undefined) {
    t.comment('skipped: the engine has no volumes layer yet, so NBD is not started')
    return
  }
  const volume = await createVolume(first)
  const written = await runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0xa1 0 1M', '-c', 'flush', '-c', 'write -f -P 0xa2 1M 64k', `${tcp}/${volume}`])
  t.equal(written.code, 0, written.stdout + written.stderr)
  const list = await runTool('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${socketPath}`])
  t.ok(JSON.parse(list.stdout).exports.some((entry: { 'export-name': string }) => entry['export-name'] === volume), 'LIST shows the volume')
  await first.stop('SIGKILL')

  const second = await startCairn(t, { dataDir, args, env })
  t.ok(await nbdUrl(second))
  const read = await runTool('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0xa1 0 1M', '-c', 'read -P 0xa2 1M 64k', `nbd+unix:///${volume}?socket=${socketPath}`])
  t.equal(read.code, 0, `flushed data intact after SIGKILL: ${read.stdout} ${read.stderr}`)

  // An idle client does not hold shutdown open: the server ends its session and exits 0.
  const holder = runTool('nbdsh', ['-u', `nbd+unix:///${volume}?socket=${socketPath}`, '-c', 'import time; h.pread(4096, 0); time.sleep(4)'], { timeoutMs: 20_000 })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const started = Date.now()
  t.same(await second.stop('SIGTERM'), { code: 0, signal: null })
  t.ok(Date.now() - started < 12_000, 'stopped within the grace period')
  await holder
})

import t from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseServerConfig } from './config.ts'
import { openEngine, rebuildIndexOffline } from './engine.ts'
import { createLogger } from './logger.ts'

function configFor(dataDir: string, env: Record<string, string> = {}) {
  return parseServerConfig({ args: ['--data-dir', dataDir], env, cwd: '/', readTextFile: () => '' }).config
}

const quiet = createLogger({ level: 'silent' })

t.test('open takes the data dir, writes the pid file and the master key; close releases both', async (t) => {
  const dataDir = join(t.testdir({}), 'data')
  const config = configFor(dataDir)
  const engine = await openEngine(config, quiet)
  t.equal(statSync(dataDir).mode & 0o777, 0o700)
  t.equal(readFileSync(join(dataDir, 'cairn.pid'), 'utf8'), `${process.pid}\n`)
  t.ok(existsSync(join(dataDir, 'keys', 'master.key')))
  const info = await engine.info()
  t.match(info, { dataDir, coldDir: join(dataDir, 'cold'), metaStore: { backend: 'leveldb' }, masterKey: { id: /^[0-9a-f]{16}$/, source: 'file' } })
  t.match(info, { chunkStore: { hashAlgorithm: 'blake3', puts: 0 } })
  t.match(await engine.scrub?.({ signal: new AbortController().signal }), { checkedChunks: 0, corrupt: [] }, 'maintenance reaches the chunk store')

  await t.rejects(openEngine(config, quiet), {
    code: 'LOCKED',
    message: `data dir ${dataDir} is in use by another Cairn process (pid ${process.pid}); stop it first, or give this server another --data-dir`,
  })
  await t.rejects(rebuildIndexOffline(config, quiet), { code: 'LOCKED', message: /stop the server before running `cairn repair`/ })

  await engine.close()
  await engine.close()
  t.notOk(existsSync(join(dataDir, 'cairn.pid')))
  const again = await openEngine(config, quiet)
  t.same((await again.info()).masterKey, info.masterKey, 'same master key on reopen')
  await again.close()
})

t.test('a bad master key in the environment fails the open and releases the lock', async (t) => {
  const dataDir = join(t.testdir({}), 'data')
  await t.rejects(openEngine(configFor(dataDir, { CAIRN_MASTER_KEY: 'not-a-key' }), quiet), { code: 'INVALID_ARGUMENT', message: /CAIRN_MASTER_KEY is not a master key/ })
  t.notOk(existsSync(join(dataDir, 'cairn.pid')))
  const engine = await openEngine(configFor(dataDir), quiet)
  await engine.close()
})

t.test('repair refuses a data dir that does not exist', async (t) => {
  const dataDir = join(t.testdir({}), 'missing')
  await t.rejects(rebuildIndexOffline(configFor(dataDir), quiet), { code: 'NOT_FOUND', message: `data dir ${dataDir} does not exist` })
  t.notOk(existsSync(dataDir), 'and does not create it')
})

import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runMetaStoreCompliance } from './compliance.ts'
import { key } from './keys.ts'
import { LevelMetaStore } from './level-store.ts'

const root = await mkdtemp(join(tmpdir(), 'cairn-level-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let storeCount = 0

runMetaStoreCompliance(t, 'level', async () => {
  storeCount += 1
  const path = join(root, `store-${storeCount}`)
  return { store: await LevelMetaStore.open(path), reopen: () => LevelMetaStore.open(path) }
})

t.test('a second open of the same directory fails LOCKED', async (t) => {
  const path = join(root, 'locked')
  const store = await LevelMetaStore.open(path)
  try {
    await t.rejects(LevelMetaStore.open(path), { code: 'LOCKED', message: `metadata store ${path} is in use by another process` })
  } finally {
    await store.close()
  }
  const again = await LevelMetaStore.open(path)
  await again.close()
})

t.test('an open from another process fails LOCKED', async (t) => {
  const path = join(root, 'locked-child')
  const store = await LevelMetaStore.open(path)
  try {
    const script = [
      `import { LevelMetaStore } from ${JSON.stringify(new URL('./level-store.ts', import.meta.url).href)}`,
      `try { await LevelMetaStore.open(${JSON.stringify(path)}); console.log('OPENED') }`,
      `catch (error) { console.log(error.code) }`,
    ].join('\n')
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text))
    const exitCode = await new Promise((resolve) => child.on('close', resolve))
    t.equal(exitCode, 0)
    t.equal(output.trim(), 'LOCKED')
  } finally {
    await store.close()
  }
})

t.test('other open failures are IO_ERROR with a cause', async (t) => {
  const notADirectory = join(root, 'file')
  await writeFile(notADirectory, 'not a database')
  const error = await LevelMetaStore.open(notADirectory).catch((caught: unknown) => caught)
  t.match(error, { code: 'IO_ERROR' })
  t.ok((error as Error).cause, 'keeps the cause')
})

t.test('reopen keeps data and order', async (t) => {
  const path = join(root, 'reopen')
  const first = await LevelMetaStore.open(path)
  await first.transact(async (tx) => {
    for (let index = 0; index < 50; index += 1) tx.put(key('n', index), Buffer.of(index))
  })
  await first.close()
  const second = await LevelMetaStore.open(path)
  try {
    const entries = await second.read((tx) => tx.scan({ gte: key('n', 10), limit: 5 }))
    t.same(
      entries.map((entry) => entry.value[0]),
      [10, 11, 12, 13, 14],
    )
    t.equal(second.path, path)
  } finally {
    await second.close()
  }
})

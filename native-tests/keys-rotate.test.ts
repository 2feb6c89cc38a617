// Master key rotation on a real data dir: `cairn keys rotate` (offline, resumable) and the
// environment route (CAIRN_MASTER_KEY new + CAIRN_PREVIOUS_MASTER_KEY old, finished by the
// server at start). Encrypted chunks stay readable; the old key alone no longer opens the dir.
import t from 'tap'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KeyRing } from '../src/chunk/index.ts'
import { decodeMasterKeyFile, encodeMasterKeyFile, masterKeyFromBytes, masterKeyIdHex, type MasterKey } from '../src/crypto/index.ts'
import { systemRandom, type ChunkId } from '../src/lib/index.ts'
import { LevelMetaStore } from '../src/meta/index.ts'
import { openDiskStore } from './fixtures/chunk-common.ts'
import { runCli, startCairn, tempDir } from './helpers/server.ts'

const keyFile = (dataDir: string, name = 'master.key'): string => join(dataDir, 'keys', name)
const readKey = (path: string): MasterKey => decodeMasterKeyFile(readFileSync(path), path)

/** A data dir holding one encrypted chunk; returns its id and plaintext. */
async function seededDataDir(dataDir: string) {
  const disk = await openDiskStore(dataDir)
  const plain = Buffer.from('a secret worth rotating keys for '.repeat(100))
  const { id } = await disk.store.put(plain, { domain: disk.domain })
  await disk.close()
  return { id, plain }
}

async function readBack(dataDir: string, id: ChunkId): Promise<Buffer> {
  const disk = await openDiskStore(dataDir)
  try {
    return await disk.store.get(id)
  } finally {
    await disk.close()
  }
}

t.test('cairn keys rotate re-wraps domain keys and keeps chunks readable', async (t) => {
  const dataDir = tempDir(t)
  const { id, plain } = await seededDataDir(dataDir)
  const oldKey = readKey(keyFile(dataDir))

  const result = await runCli(['keys', 'rotate', '--data-dir', dataDir, '--json'])
  t.equal(result.code, 0, result.stderr)
  const report = JSON.parse(result.stdout) as { previousMasterKeyId: string; masterKeyId: string; rewrappedDomains: number }
  const newKey = readKey(keyFile(dataDir))
  t.match(report, { previousMasterKeyId: masterKeyIdHex(oldKey), masterKeyId: masterKeyIdHex(newKey), rewrappedDomains: 1 })
  t.not(masterKeyIdHex(newKey), masterKeyIdHex(oldKey))
  t.notOk(existsSync(keyFile(dataDir, 'master.key.previous')), 'the old key file is gone')
  t.same(await readBack(dataDir, id), plain, 'the encrypted chunk reads back with the new key')

  const meta = await LevelMetaStore.open(join(dataDir, 'meta'))
  await t.rejects(KeyRing.open({ meta, masterKey: oldKey, random: systemRandom }), { code: 'KEY_UNAVAILABLE' }, 'the old key alone is refused')
  await meta.close()
})

t.test('an interrupted rotation (old key already copied aside) finishes when run again', async (t) => {
  const dataDir = tempDir(t)
  const { id, plain } = await seededDataDir(dataDir)
  copyFileSync(keyFile(dataDir), keyFile(dataDir, 'master.key.previous')) // crash right after step 1
  const result = await runCli(['keys', 'rotate', '--data-dir', dataDir])
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /master key rotated: [0-9a-f]{16} -> [0-9a-f]{16} \(1 key domains re-wrapped\)/)
  t.same(await readBack(dataDir, id), plain)
})

t.test('rotation through the environment finishes at server start', async (t) => {
  const dataDir = tempDir(t)
  const { id, plain } = await seededDataDir(dataDir)
  const oldKeyHex = readKey(keyFile(dataDir)).key.toString('hex')
  const newKeyHex = Buffer.alloc(32, 7).toString('hex')
  const server = await startCairn(t, { dataDir, env: { CAIRN_MASTER_KEY: newKeyHex, CAIRN_PREVIOUS_MASTER_KEY: oldKeyHex } })
  t.match(server.stderr(), /master key rotation finished/)
  t.same(await server.stop(), { code: 0, signal: null })

  const refused = await runCli(['keys', 'rotate', '--data-dir', dataDir], { env: { CAIRN_MASTER_KEY: newKeyHex } })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /set CAIRN_MASTER_KEY to the new key/)

  // Now on the new key: a start with only the new key works, and the chunk is intact.
  const again = await startCairn(t, { dataDir, env: { CAIRN_MASTER_KEY: newKeyHex } })
  t.same(await again.stop(), { code: 0, signal: null })
  const newKey = masterKeyFromBytes(Buffer.from(newKeyHex, 'hex'))
  const meta = await LevelMetaStore.open(join(dataDir, 'meta'))
  const ring = await KeyRing.open({ meta, masterKey: newKey, random: systemRandom })
  t.same(await ring.masterStatus(), { masterKeyId: masterKeyIdHex(newKey), rotatingTo: undefined })
  await meta.close()
  // openDiskStore reads the key file, which still holds the old key: put the new one there.
  writeFileSync(keyFile(dataDir), encodeMasterKeyFile(newKey), { mode: 0o600 })
  t.same(await readBack(dataDir, id), plain)
})

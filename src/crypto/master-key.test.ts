import t from 'tap'
import { randomBytes } from 'node:crypto'
import { stat, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { nodeIo, FaultyIo } from '../io/index.ts'
import { systemRandom } from '../lib/index.ts'
import { encodeMasterKeyFile, loadMasterKey, loadPreviousMasterKey, masterKeyFromBytes, masterKeyPath, parseMasterKeyText, previousMasterKeyPath } from './master-key.ts'

const keyBytes = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')

t.test('env key: hex and base64 (standard, URL-safe, unpadded) of 32 bytes', async (t) => {
  const expected = masterKeyFromBytes(keyBytes)
  const forms = [
    keyBytes.toString('hex'),
    keyBytes.toString('hex').toUpperCase(),
    keyBytes.toString('base64'),
    keyBytes.toString('base64').replace(/=$/, ''),
    keyBytes.toString('base64url'),
    `  ${keyBytes.toString('hex')}\n`,
  ]
  for (const form of forms) t.ok(parseMasterKeyText(form).id.equals(expected.id), JSON.stringify(form))
  const tricky = Buffer.alloc(32, 0xfb) // base64 with + and / (and - and _ when URL-safe)
  t.ok(parseMasterKeyText(tricky.toString('base64')).key.equals(tricky))
  t.ok(parseMasterKeyText(tricky.toString('base64url')).key.equals(tricky))
})

t.test('env key: anything else is INVALID_ARGUMENT naming the expected form, never the value', async (t) => {
  const bad = [
    '',
    'secret',
    keyBytes.toString('hex').slice(0, 62), // 31 bytes
    `${keyBytes.toString('hex')}00`, // 33 bytes
    randomBytes(31).toString('base64'),
    randomBytes(33).toString('base64'),
    randomBytes(48).toString('base64'), // 64 base64 digits, not hex
    `${keyBytes.toString('hex').slice(0, 63)}g`,
    `${keyBytes.toString('base64').slice(0, 43)}==`,
  ]
  for (const value of bad) {
    t.throws(() => parseMasterKeyText(value), { code: 'INVALID_ARGUMENT', message: /expected 32 bytes as 64 hex digits or as base64/ }, JSON.stringify(value))
  }
  try {
    parseMasterKeyText('hunter2-is-my-password')
  } catch (error) {
    t.notMatch((error as Error).message, /hunter2/)
  }
})

t.test('loadMasterKey prefers the env value and writes no file', async (t) => {
  const dataDir = t.testdir()
  const loaded = await loadMasterKey({ io: nodeIo, dataDir, envValue: keyBytes.toString('hex'), random: systemRandom })
  t.equal(loaded.source, 'env')
  t.equal(loaded.created, false)
  t.ok(loaded.masterKey.key.equals(keyBytes))
  t.equal(await nodeIo.sizeBytesOf(masterKeyPath(dataDir)), undefined)
  await t.rejects(loadMasterKey({ io: nodeIo, dataDir, envValue: 'nope', random: systemRandom }), { code: 'INVALID_ARGUMENT' })
})

t.test('first load creates keys/master.key 0600 in a 0700 dir; the second load reuses it', async (t) => {
  const dataDir = t.testdir()
  const first = await loadMasterKey({ io: nodeIo, dataDir, envValue: undefined, random: systemRandom })
  t.equal(first.created, true)
  t.equal(first.source, 'file')
  const path = masterKeyPath(dataDir)
  t.equal(path, join(dataDir, 'keys', 'master.key'))
  t.equal((await stat(path)).mode & 0o777, 0o600)
  t.equal((await stat(join(dataDir, 'keys'))).mode & 0o777, 0o700)
  t.equal((await stat(path)).size, 49)
  const second = await loadMasterKey({ io: nodeIo, dataDir, envValue: undefined, random: systemRandom })
  t.equal(second.created, false)
  t.equal(second.source, 'file')
  t.ok(second.masterKey.key.equals(first.masterKey.key))
  t.ok(second.masterKey.id.equals(first.masterKey.id))
})

t.test('the key file is written in the documented v1 layout', async (t) => {
  const master = masterKeyFromBytes(keyBytes)
  const file = encodeMasterKeyFile(master)
  t.equal(file.subarray(0, 8).toString('ascii'), 'CAIRNKEY')
  t.equal(file[8], 1)
  t.ok(file.subarray(9, 41).equals(keyBytes))
  t.ok(file.subarray(41, 49).equals(master.id))
})

t.test('a raw 32-byte key file is accepted', async (t) => {
  const dataDir = t.testdir({ keys: { 'master.key': keyBytes } })
  const loaded = await loadMasterKey({ io: nodeIo, dataDir, envValue: undefined, random: systemRandom })
  t.equal(loaded.created, false)
  t.ok(loaded.masterKey.key.equals(keyBytes))
})

t.test('a key file of the wrong size, magic, version or check is KEY_UNAVAILABLE', async (t) => {
  const good = encodeMasterKeyFile(masterKeyFromBytes(keyBytes))
  const damaged = Buffer.from(good)
  damaged[20]! ^= 1
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['31 bytes', keyBytes.subarray(0, 31)],
    ['33 bytes', Buffer.concat([keyBytes, Buffer.of(0)])],
    ['a hex text file', Buffer.from(`${keyBytes.toString('hex')}\n`)],
    ['wrong magic', Buffer.concat([Buffer.from('CAIRNKEX'), good.subarray(8)])],
    ['version 2', Buffer.concat([good.subarray(0, 8), Buffer.of(2), good.subarray(9)])],
    ['a flipped key bit', damaged],
  ]
  for (const [name, bytes] of cases) {
    const dataDir = t.testdir()
    await mkdir(join(dataDir, 'keys'))
    await writeFile(masterKeyPath(dataDir), bytes)
    await t.rejects(loadMasterKey({ io: nodeIo, dataDir, envValue: undefined, random: systemRandom }), { code: 'KEY_UNAVAILABLE' }, name)
    t.equal((await stat(masterKeyPath(dataDir))).size, bytes.length, `${name}: the file is left alone`)
  }
})

t.test('a failed fsync while creating the key file fails the load', async (t) => {
  const dataDir = t.testdir()
  const io = new FaultyIo(nodeIo)
  io.addRule({ operation: 'sync', kind: 'EIO', path: /master\.key/ })
  await t.rejects(loadMasterKey({ io, dataDir, envValue: undefined, random: systemRandom }), { code: 'IO_ERROR' })
  t.equal(await nodeIo.sizeBytesOf(masterKeyPath(dataDir)), undefined, 'no key file appears')
})

t.test('the previous master key comes from its env value, else master.key.previous, else nothing', async (t) => {
  const dataDir = t.testdir()
  t.equal(await loadPreviousMasterKey({ io: nodeIo, dataDir, envValue: undefined }), undefined)
  const fromEnv = await loadPreviousMasterKey({ io: nodeIo, dataDir, envValue: keyBytes.toString('base64') })
  t.equal(fromEnv?.source, 'env')
  t.ok(fromEnv?.masterKey.key.equals(keyBytes))
  await t.rejects(loadPreviousMasterKey({ io: nodeIo, dataDir, envValue: 'x' }), { code: 'INVALID_ARGUMENT', message: /CAIRN_PREVIOUS_MASTER_KEY/ })
  await mkdir(join(dataDir, 'keys'))
  await writeFile(previousMasterKeyPath(dataDir), encodeMasterKeyFile(masterKeyFromBytes(keyBytes)))
  const fromFile = await loadPreviousMasterKey({ io: nodeIo, dataDir, envValue: undefined })
  t.equal(fromFile?.source, 'file')
  t.ok(fromFile?.masterKey.key.equals(keyBytes))
  t.equal(await nodeIo.sizeBytesOf(masterKeyPath(dataDir)), undefined, 'loading the previous key creates no current key')
})

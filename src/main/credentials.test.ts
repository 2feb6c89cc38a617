import t from 'tap'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ManualClock, systemRandom, type Random } from '../lib/index.ts'
import { nodeIo } from '../io/index.ts'
import {
  credentialsFromEnv,
  formatCredentialsAnnouncement,
  generateRootCredentials,
  loadRootCredentials,
  readRootCredentialsFile,
  rootCredentialsFileName,
} from './credentials.ts'
import { UsageError } from './usage-error.ts'

t.test('generated credentials look like AWS keys and are uniform over the alphabet', async (t) => {
  const { accessKey, secretKey } = generateRootCredentials(systemRandom)
  t.match(accessKey, /^[A-Z0-9]{20}$/)
  t.match(secretKey, /^[A-Za-z0-9]{40}$/)
  // Bytes at or above the rejection limit (252 for 36 symbols) are skipped, never folded in.
  let call = 0
  const skewed: Random = { bytes: (length) => Buffer.alloc(length, call++ === 0 ? 255 : 1) }
  t.equal(generateRootCredentials(skewed).accessKey, 'B'.repeat(20))
})

t.test('environment credentials: both or neither, validated', async (t) => {
  t.equal(credentialsFromEnv(undefined, undefined), undefined)
  t.same(credentialsFromEnv('ADMINKEY', 'a-long-secret'), { accessKey: 'ADMINKEY', secretKey: 'a-long-secret' })
  t.throws(() => credentialsFromEnv('ADMINKEY', undefined), /set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY or neither; CAIRN_ROOT_SECRET_KEY is missing/)
  t.throws(() => credentialsFromEnv(undefined, 'a-long-secret'), UsageError)
  t.throws(() => credentialsFromEnv('a:b', 'a-long-secret'), /CAIRN_ROOT_ACCESS_KEY must be/)
  t.throws(() => credentialsFromEnv('ADMINKEY', 'short'), /CAIRN_ROOT_SECRET_KEY must be/)
  t.throws(() => credentialsFromEnv('ADMINKEY', 'has a space'), /CAIRN_ROOT_SECRET_KEY must be/)
})

t.test('first load generates and stores 0600; later loads reuse; env wins', async (t) => {
  const dataDir = t.testdir({})
  const options = { io: nodeIo, dataDir, fromEnv: undefined, random: systemRandom, clock: new ManualClock() }
  const first = await loadRootCredentials(options)
  t.equal(first.source, 'generated')
  t.equal(first.path, join(dataDir, rootCredentialsFileName))
  t.equal(statSync(first.path).mode & 0o777, 0o600)
  const second = await loadRootCredentials(options)
  t.equal(second.source, 'file')
  t.same(second.credentials, first.credentials)
  t.same(await readRootCredentialsFile(nodeIo, dataDir), first.credentials)
  const fromEnv = { accessKey: 'ENVKEY', secretKey: 'env-secret-value' }
  const third = await loadRootCredentials({ ...options, fromEnv })
  t.equal(third.source, 'env')
  t.same(third.credentials, fromEnv)
  t.same(await readRootCredentialsFile(nodeIo, dataDir), first.credentials, 'the env pair is not written to disk')
})

t.test('a damaged credentials file is a clear error, never silently replaced', async (t) => {
  const dataDir = t.testdir({})
  const path = join(dataDir, rootCredentialsFileName)
  const options = { io: nodeIo, dataDir, fromEnv: undefined, random: systemRandom, clock: new ManualClock() }
  writeFileSync(path, '{"formatVersion":1,"accessKey":"AKEY"')
  await t.rejects(loadRootCredentials(options), { code: 'INVALID_ARGUMENT', message: /root-credentials\.json is not a valid credentials file \(not JSON\)/ })
  writeFileSync(path, '{"formatVersion":2,"accessKey":"AKEY","secretKey":"secretsecret"}')
  await t.rejects(loadRootCredentials(options), { message: /formatVersion 2, expected 1/ })
  writeFileSync(path, '{"formatVersion":1,"accessKey":"AKEY"}')
  await t.rejects(loadRootCredentials(options), { message: /accessKey or secretKey missing/ })
  t.equal(await readRootCredentialsFile(nodeIo, t.testdir({})), undefined)
})

t.test('the announcement is labelled and carries both keys', async (t) => {
  const text = formatCredentialsAnnouncement({ accessKey: 'AKEY', secretKey: 'SKEY-SKEY' }, '/d/root-credentials.json')
  t.match(text, /Cairn root credentials \(shown once\)/)
  t.match(text, /access key: AKEY/)
  t.match(text, /secret key: SKEY-SKEY/)
  t.match(text, /\/d\/root-credentials\.json \(mode 0600\)/)
})

// The master key: 32 bytes that wrap every key domain's data key (docs/format/keys.md).
//
// Contract:
// - The key comes from CAIRN_MASTER_KEY (64 hex digits or base64 of 32 bytes) when set, else
//   from <dataDir>/keys/master.key, which is created on first start (mode 0600 in a 0700 dir,
//   written atomically and fsynced together with its directory entries before it is used).
// - A master key is named by its id: HMAC-SHA256(key, "cairn master key id")[0..8]. Ids are
//   safe to log and to store; the key bytes are never logged, stored in metadata, or put in
//   error messages.
// - A malformed env value is INVALID_ARGUMENT; an unreadable or damaged key file is
//   KEY_UNAVAILABLE. This module never overwrites an existing key file.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { readSmallFile, writeFileAtomic, type Io } from '../io/index.ts'
import { assert, limits, StoreError, type Random } from '../lib/index.ts'

export interface MasterKey {
  /** 8 bytes: HMAC-SHA256(key, 'cairn master key id')[0..8]. */
  readonly id: Buffer
  /** 32 bytes. */
  readonly key: Buffer
}

export const masterKeyIdBytes = 8
const masterKeyIdLabel = 'cairn master key id'

/** Key file v1: magic "CAIRNKEY", version byte, key, key id (a check against damage). */
const keyFileMagic = Buffer.from('CAIRNKEY', 'ascii')
export const masterKeyFileVersion = 1
const keyFileBytes = keyFileMagic.length + 1 + limits.masterKeyBytes + masterKeyIdBytes

export function masterKeyFromBytes(bytes: Buffer): MasterKey {
  assert(bytes.length === limits.masterKeyBytes, `a master key is ${limits.masterKeyBytes} bytes`)
  // A private copy (not a slice of a shared pool slab or of the caller's buffer).
  const key = Buffer.alloc(limits.masterKeyBytes)
  bytes.copy(key)
  const id = createHmac('sha256', key).update(masterKeyIdLabel, 'utf8').digest().subarray(0, masterKeyIdBytes)
  return { id: Buffer.from(id), key }
}

export function masterKeyIdHex(masterKey: MasterKey): string {
  return masterKey.id.toString('hex')
}

const expectedForm = `${limits.masterKeyBytes} bytes as ${limits.masterKeyBytes * 2} hex digits or as base64 (e.g. the output of \`openssl rand -hex 32\` or \`openssl rand -base64 32\`)`

/** Parse a master key given as text (CAIRN_MASTER_KEY): 64 hex digits, or base64 (standard or URL-safe) of 32 bytes. */
export function parseMasterKeyText(text: string, what = 'CAIRN_MASTER_KEY'): MasterKey {
  const trimmed = text.trim()
  let bytes: Buffer | undefined
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    bytes = Buffer.from(trimmed, 'hex')
  } else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    // 43 base64 digits carry 258 bits: 32 bytes plus 2 bits that node ignores.
    bytes = Buffer.from(trimmed, 'base64')
  }
  if (!bytes || bytes.length !== limits.masterKeyBytes) {
    // Never echo the value: it is (meant to be) a secret. Its length helps spot a truncated paste.
    throw new StoreError('INVALID_ARGUMENT', `${what} is not a master key (got ${trimmed.length} characters): expected ${expectedForm}`)
  }
  return masterKeyFromBytes(bytes)
}

/** The bytes of a master key file (format v1). */
export function encodeMasterKeyFile(masterKey: MasterKey): Buffer {
  const file = Buffer.alloc(keyFileBytes)
  let at = keyFileMagic.copy(file, 0)
  file[at++] = masterKeyFileVersion
  at += masterKey.key.copy(file, at)
  at += masterKey.id.copy(file, at)
  assert(at === keyFileBytes, 'key file layout')
  return file
}

/** Decode a master key file: format v1 (49 bytes), or raw 32 bytes written by an operator. */
export function decodeMasterKeyFile(bytes: Buffer, path: string): MasterKey {
  if (bytes.length === limits.masterKeyBytes) return masterKeyFromBytes(bytes)
  if (bytes.length !== keyFileBytes) {
    throw new StoreError('KEY_UNAVAILABLE', `master key file ${path} is ${bytes.length} bytes; expected ${keyFileBytes} (Cairn key file) or ${limits.masterKeyBytes} (raw key)`)
  }
  if (!bytes.subarray(0, keyFileMagic.length).equals(keyFileMagic)) {
    throw new StoreError('KEY_UNAVAILABLE', `master key file ${path} does not start with "CAIRNKEY"`)
  }
  const version = bytes[keyFileMagic.length]
  if (version !== masterKeyFileVersion) {
    throw new StoreError('KEY_UNAVAILABLE', `master key file ${path} has format version ${version}; this Cairn reads version ${masterKeyFileVersion}`)
  }
  const keyAt = keyFileMagic.length + 1
  const masterKey = masterKeyFromBytes(bytes.subarray(keyAt, keyAt + limits.masterKeyBytes))
  if (!masterKey.id.equals(bytes.subarray(keyAt + limits.masterKeyBytes))) {
    throw new StoreError('KEY_UNAVAILABLE', `master key file ${path} is damaged (its key does not match its recorded key id)`)
  }
  return masterKey
}

export function masterKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'master.key')
}

/** Where an operator puts the old key while a master key rotation runs (docs/format/keys.md). */
export function previousMasterKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'master.key.previous')
}

/** Read a master key file, or undefined when it does not exist. */
export async function readMasterKeyFile(io: Io, path: string): Promise<MasterKey | undefined> {
  let bytes: Buffer | undefined
  try {
    bytes = await readSmallFile(io, path)
  } catch (error) {
    throw new StoreError('KEY_UNAVAILABLE', `cannot read master key file ${path}`, { cause: error })
  }
  return bytes === undefined ? undefined : decodeMasterKeyFile(bytes, path)
}

export interface LoadMasterKeyOptions {
  io: Io
  dataDir: string
  /** process.env.CAIRN_MASTER_KEY, read by main/ (never read here). */
  envValue: string | undefined
  random: Random
}

export interface LoadedMasterKey {
  masterKey: MasterKey
  /** True when this call generated the key and wrote the key file. */
  created: boolean
  source: 'env' | 'file'
}

export async function loadMasterKey(options: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  const { io, dataDir, envValue, random } = options
  if (envValue !== undefined) return { masterKey: parseMasterKeyText(envValue), created: false, source: 'env' }
  const path = masterKeyPath(dataDir)
  const existing = await readMasterKeyFile(io, path)
  if (existing) return { masterKey: existing, created: false, source: 'file' }
  // First start. The data dir lock (held by the caller) keeps a second process from racing us.
  const bytes = random.bytes(limits.masterKeyBytes)
  assert(bytes.length === limits.masterKeyBytes, 'random gave a short key')
  const masterKey = masterKeyFromBytes(bytes)
  bytes.fill(0)
  const keysDir = join(dataDir, 'keys')
  await io.mkdirp(keysDir, 0o700)
  // The key must survive a crash before anything is encrypted with it: make the keys dir entry
  // durable, then writeFileAtomic makes the file and its entry in keysDir durable.
  await io.syncDir(dataDir)
  await writeFileAtomic(io, path, encodeMasterKeyFile(masterKey), 0o600)
  return { masterKey, created: true, source: 'file' }
}

export interface LoadPreviousMasterKeyOptions {
  io: Io
  dataDir: string
  /** process.env.CAIRN_PREVIOUS_MASTER_KEY, read by main/. */
  envValue: string | undefined
}

/**
 * The previous master key during a rotation: from CAIRN_PREVIOUS_MASTER_KEY when set, else from
 * <dataDir>/keys/master.key.previous, else undefined. Never created.
 */
export async function loadPreviousMasterKey(options: LoadPreviousMasterKeyOptions): Promise<{ masterKey: MasterKey; source: 'env' | 'file' } | undefined> {
  if (options.envValue !== undefined) {
    return { masterKey: parseMasterKeyText(options.envValue, 'CAIRN_PREVIOUS_MASTER_KEY'), source: 'env' }
  }
  const masterKey = await readMasterKeyFile(options.io, previousMasterKeyPath(options.dataDir))
  return masterKey ? { masterKey, source: 'file' } : undefined
}

// Cairn's built-in KMS (docs/encryption.md 2): customer managed keys for SSE-KMS, named by key
// id (a UUID), ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or alias (alias/NAME).
//
// Contract:
// - A key's material is a list of generations; each is a key-ring domain (random data key wrapped
//   by the master key, src/chunk/keyring.ts), from whose cipher key HKDF derives the generation's
//   wrapping key. rotate adds a generation: new data keys are wrapped by the newest, old ones
//   keep naming theirs, so everything stays readable. Master key rotations re-wrap KMS material
//   with every other domain.
// - wrap/unwrap of a data key (and of a bucket key) only happen while the key is Enabled:
//   otherwise KMS.DisabledException / KMS.KMSInvalidStateException (INVALID_STATE, 400 on S3).
//   The state is read from the metadata store on every use, so disabling takes effect at once,
//   also for bucket keys already in the cache.
// - Unknown keys are NOT_FOUND with the hint KMS.NotFoundException (S3 answers 400, the admin
//   API 404).
// - A bucket key (SSE-KMS with BucketKeyEnabled) is 32 random bytes per (bucket, key, generation),
//   wrapped by the generation key and cached unwrapped: objects under it cost no KMS-key
//   operation, which `keyOperations` counts.
// Never: store or log key material or data keys; hand out a data key of a key that is not Enabled.
import { hkdfSync } from 'node:crypto'
import { unwrapDataKey, wrapDataKey, type DomainKeys, type WrappingKey } from '../crypto/index.ts'
import { assert, dataManagementLimits, isStoreError, keyDomainIdFrom, StoreError, type Clock, type KeyDomainId, type Random } from '../lib/index.ts'
import type { MetaStore, ReadTx } from '../meta/index.ts'
import {
  bucketKeyKey,
  decodeBucketKey,
  decodeKmsAlias,
  decodeKmsKey,
  encodeBucketKey,
  encodeKmsAlias,
  encodeKmsKey,
  kmsAliasKey,
  kmsKeyKey,
  kmsKeyRange,
  type KmsEnvelope,
  type KmsKeyRecord,
  type KmsKeyState,
} from '../model/index.ts'
import { ObjectsError } from './errors.ts'

/** The key ring as the KMS needs it (src/chunk/keyring.ts KeyRing satisfies it). */
export interface KmsKeySource {
  createDomain(): Promise<KeyDomainId>
  keysFor(domain: KeyDomainId): Promise<DomainKeys>
}

/** A key as the admin API and the CLI show it. */
export interface KmsKeyInfo {
  readonly keyId: string
  readonly arn: string
  readonly description: string
  readonly state: KmsKeyState
  readonly createdMs: number
  readonly stateChangedMs?: number
  readonly aliases: readonly string[]
  /** The generation new data keys are wrapped by (1 + rotations). */
  readonly currentGeneration: number
  readonly generations: ReadonlyArray<{ readonly generation: number; readonly createdMs: number }>
}

/** An Enabled key resolved for encrypting, with the generation to wrap new data keys by. */
export interface UsableKmsKey {
  readonly keyId: string
  readonly arn: string
  readonly generation: number
}

export const kmsAccountId = '000000000000'
const dataKeyBytes = 32
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const keyArnPattern = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/
const aliasArnPattern = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/
const aliasPattern = /^alias\/[a-zA-Z0-9/_-]+$/
const hkdfInfoWrappingKey = 'cairn v1 kms wrapping key'

export function kmsKeyArn(record: Pick<KmsKeyRecord, 'region' | 'accountId' | 'keyId'>): string {
  return `arn:aws:kms:${record.region}:${record.accountId}:key/${record.keyId}`
}

function notFound(message: string): ObjectsError {
  return new ObjectsError('NOT_FOUND', message, { hint: 'KMS.NotFoundException' })
}

function aliasExists(alias: string): ObjectsError {
  return new ObjectsError('ALREADY_EXISTS', `An alias with the name ${alias} already exists`)
}

function unusable(record: KmsKeyRecord): ObjectsError {
  const arn = kmsKeyArn(record)
  return record.state === 'Disabled'
    ? new ObjectsError('INVALID_STATE', `${arn} is disabled.`, { hint: 'KMS.DisabledException' })
    : new ObjectsError('INVALID_STATE', `${arn} is pending deletion.`, { hint: 'KMS.KMSInvalidStateException' })
}

function info(record: KmsKeyRecord): KmsKeyInfo {
  const current = record.generations.at(-1)
  assert(current !== undefined, 'a key has a generation')
  return {
    keyId: record.keyId,
    arn: kmsKeyArn(record),
    description: record.description,
    state: record.state,
    createdMs: record.createdMs,
    ...(record.stateChangedMs === undefined ? {} : { stateChangedMs: record.stateChangedMs }),
    aliases: [...record.aliases],
    currentGeneration: current.generation,
    generations: record.generations.map((generation) => ({ generation: generation.generation, createdMs: generation.createdMs })),
  }
}

function uuidOf(bytes: Buffer): string {
  assert(bytes.length === 16, 'a UUID is 16 bytes')
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40 // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80 // RFC 4122 variant
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** "NAME" or "alias/NAME" -> "alias/NAME", checked as AWS checks alias names. */
export function normalizeAlias(text: string): string {
  const name = text.startsWith('alias/') ? text : `alias/${text}`
  if (name.length > dataManagementLimits.kmsAliasCharsMax || !aliasPattern.test(name)) {
    throw new ObjectsError('INVALID_ARGUMENT', `alias ${text} is not valid: letters, digits, "/", "_" and "-" after "alias/", at most ${dataManagementLimits.kmsAliasCharsMax} characters`)
  }
  if (name.startsWith('alias/aws/')) throw new ObjectsError('INVALID_ARGUMENT', `alias ${name} is reserved: names starting with alias/aws/ belong to AWS managed keys`)
  return name
}

const dataKeyContext = (envelope: Pick<KmsEnvelope, 'keyId' | 'generation'>, context: string): string => `cairn kms data key v1\0${envelope.keyId}\0${envelope.generation}\0${context}`
const bucketKeyContext = (bucketId: number, keyId: string, generation: number): string => `cairn kms bucket key v1\0${bucketId}\0${keyId}\0${generation}`
const bucketDataKeyContext = (bucketId: number, envelope: Pick<KmsEnvelope, 'keyId' | 'generation'>, context: string): string =>
  `cairn kms bucket-key data key v1\0${bucketId}\0${envelope.keyId}\0${envelope.generation}\0${context}`

export interface KeyManagementOptions {
  meta: MetaStore
  /** Undefined: a store without a key ring; creating keys answers NOT_IMPLEMENTED. */
  keys: KmsKeySource | undefined
  clock: Clock
  random: Random
  /** The region of key ARNs (the server's default region). */
  region: string
}

export class KeyManagement {
  readonly #meta: MetaStore
  readonly #keys: KmsKeySource | undefined
  readonly #clock: Clock
  readonly #random: Random
  readonly #region: string
  /** Unwrapped bucket keys by `${bucketId}/${keyId}/${generation}`, oldest first. */
  readonly #bucketKeys = new Map<string, Buffer>()
  #keyOperations = 0

  constructor(options: KeyManagementOptions) {
    this.#meta = options.meta
    this.#keys = options.keys
    this.#clock = options.clock
    this.#random = options.random
    this.#region = options.region
  }

  /** Wraps and unwraps done with a KMS key's material (not with a bucket key). */
  get keyOperations(): number {
    return this.#keyOperations
  }

  #source(): KmsKeySource {
    if (this.#keys === undefined) throw new StoreError('NOT_IMPLEMENTED', 'the KMS needs a key ring (this objects layer was opened without one)')
    return this.#keys
  }

  async createKey(options: { description?: string; alias?: string } = {}): Promise<KmsKeyInfo> {
    const description = options.description ?? ''
    if (description.length > dataManagementLimits.kmsDescriptionCharsMax) {
      throw new ObjectsError('INVALID_ARGUMENT', `a key description is at most ${dataManagementLimits.kmsDescriptionCharsMax} characters`)
    }
    const alias = options.alias === undefined ? undefined : normalizeAlias(options.alias)
    // Checked before the key ring allocates material (and again in the transaction, for races).
    if (alias !== undefined && (await this.#meta.read((tx) => tx.get(kmsAliasKey(alias))))) throw aliasExists(alias)
    const domain = await this.#source().createDomain()
    const nowMs = this.#clock.nowMs()
    const record: KmsKeyRecord = {
      keyId: uuidOf(this.#random.bytes(16)),
      region: this.#region,
      accountId: kmsAccountId,
      description,
      state: 'Enabled',
      createdMs: nowMs,
      aliases: alias === undefined ? [] : [alias],
      generations: [{ generation: 1, domain, createdMs: nowMs }],
    }
    await this.#meta.transact(async (tx) => {
      const count = (await tx.scan({ ...kmsKeyRange(), limit: dataManagementLimits.kmsKeysMax })).length
      if (count >= dataManagementLimits.kmsKeysMax) throw new StoreError('LIMIT_EXCEEDED', `this data dir already holds ${count} KMS keys, the most it takes`)
      if (await tx.get(kmsKeyKey(record.keyId))) throw new StoreError('ALREADY_EXISTS', `KMS key ${record.keyId} exists (random gave a repeated id)`)
      if (alias !== undefined && (await tx.get(kmsAliasKey(alias)))) throw aliasExists(alias)
      tx.put(kmsKeyKey(record.keyId), encodeKmsKey(record))
      if (alias !== undefined) tx.put(kmsAliasKey(alias), encodeKmsAlias({ keyId: record.keyId }))
    })
    return info(record)
  }

  async listKeys(): Promise<KmsKeyInfo[]> {
    const entries = await this.#meta.read((tx) => tx.scan({ ...kmsKeyRange(), limit: dataManagementLimits.kmsKeysMax }))
    return entries.map((entry) => info(decodeKmsKey(entry.value, 'kms key'))).sort((a, b) => a.createdMs - b.createdMs || a.keyId.localeCompare(b.keyId))
  }

  async describeKey(reference: string): Promise<KmsKeyInfo> {
    return info(await this.#meta.read((tx) => this.#find(tx, reference)))
  }

  async enableKey(reference: string): Promise<KmsKeyInfo> {
    return this.#setState(reference, 'Enabled')
  }

  async disableKey(reference: string): Promise<KmsKeyInfo> {
    return this.#setState(reference, 'Disabled')
  }

  async #setState(reference: string, state: KmsKeyState): Promise<KmsKeyInfo> {
    return this.#meta.transact(async (tx) => {
      const record = await this.#find(tx, reference)
      if (record.state === 'PendingDeletion') throw unusable(record)
      if (record.state === state) return info(record)
      const updated: KmsKeyRecord = { ...record, state, stateChangedMs: this.#clock.nowMs() }
      tx.put(kmsKeyKey(record.keyId), encodeKmsKey(updated))
      return info(updated)
    })
  }

  /** New key material for new encryptions; data keys wrapped by older generations stay readable. */
  async rotateKey(reference: string): Promise<KmsKeyInfo> {
    const before = await this.#meta.read((tx) => this.#find(tx, reference))
    if (before.state !== 'Enabled') throw unusable(before)
    if (before.generations.length >= dataManagementLimits.kmsGenerationsMax) {
      throw new StoreError('LIMIT_EXCEEDED', `key ${before.keyId} has been rotated ${before.generations.length - 1} times, the most a key takes`)
    }
    const domain = await this.#source().createDomain()
    return this.#meta.transact(async (tx) => {
      const record = await this.#find(tx, before.keyId)
      if (record.state !== 'Enabled') throw unusable(record)
      const generation = record.generations.length + 1
      const updated: KmsKeyRecord = { ...record, generations: [...record.generations, { generation, domain, createdMs: this.#clock.nowMs() }] }
      tx.put(kmsKeyKey(record.keyId), encodeKmsKey(updated))
      return info(updated)
    })
  }

  /** A key by id, ARN or alias (or alias ARN); NOT_FOUND KMS.NotFoundException otherwise. */
  async #find(tx: ReadTx, reference: string): Promise<KmsKeyRecord> {
    const text = reference.trim()
    const keyArn = keyArnPattern.exec(text)
    const aliasArn = aliasArnPattern.exec(text)
    let keyId: string | undefined
    if (uuidPattern.test(text)) keyId = text
    else if (keyArn !== null) keyId = keyArn[3]
    else if (aliasArn !== null || text.startsWith('alias/')) {
      const name = aliasArn?.[3] ?? text
      const alias = await tx.get(kmsAliasKey(name))
      if (alias === undefined || (aliasArn !== null && (aliasArn[1] !== this.#region || aliasArn[2] !== kmsAccountId))) {
        throw notFound(`Alias arn:aws:kms:${this.#region}:${kmsAccountId}:${name} is not found.`)
      }
      keyId = decodeKmsAlias(alias, `('kms','alias',${name})`).keyId
    } else {
      throw notFound(`Invalid keyId '${text}'`)
    }
    const stored = keyId === undefined ? undefined : await tx.get(kmsKeyKey(keyId))
    const record = stored === undefined ? undefined : decodeKmsKey(stored, `('kms','key',${keyId})`)
    if (record === undefined || (keyArn !== null && (keyArn[1] !== record.region || keyArn[2] !== record.accountId))) {
      throw notFound(`Key '${keyArn === null ? `arn:aws:kms:${this.#region}:${kmsAccountId}:key/${keyId}` : text}' does not exist`)
    }
    return record
  }

  async #usableRecord(keyId: string): Promise<KmsKeyRecord> {
    const record = await this.#meta.read((tx) => this.#find(tx, keyId))
    if (record.state !== 'Enabled') throw unusable(record)
    return record
  }

  /** The key a request names, if it is Enabled: the one to encrypt new data with. */
  async resolveForEncryption(reference: string): Promise<UsableKmsKey> {
    const record = await this.#meta.read((tx) => this.#find(tx, reference))
    if (record.state !== 'Enabled') throw unusable(record)
    const current = record.generations.at(-1)
    assert(current !== undefined, 'a key has a generation')
    return { keyId: record.keyId, arn: kmsKeyArn(record), generation: current.generation }
  }

  /** Only checks that a reference names a key (PutBucketEncryption). */
  async checkExists(reference: string): Promise<void> {
    await this.#meta.read((tx) => this.#find(tx, reference))
  }

  async #wrappingKey(record: KmsKeyRecord, generation: number): Promise<WrappingKey> {
    const entry = record.generations[generation - 1]
    if (entry === undefined) throw new StoreError('IO_ERROR', `KMS key ${record.keyId} has no generation ${generation}: the metadata is damaged`)
    const keys = await this.#source().keysFor(keyDomainIdFrom(entry.domain))
    assert(keys.cipherKey !== undefined, 'KMS material lives in encrypted domains')
    this.#keyOperations += 1
    return { id: Buffer.from(`${record.keyId}/${generation}`), key: Buffer.from(hkdfSync('sha256', keys.cipherKey, Buffer.alloc(0), hkdfInfoWrappingKey, 32)) }
  }

  /**
   * A new data key for an object under key (with the request's canonical encryption context),
   * wrapped by the key itself, or by the bucket's bucket key when bucketId is given.
   */
  async newDataKey(key: UsableKmsKey, context: string, bucketId: number | undefined): Promise<{ dataKey: Buffer; envelope: KmsEnvelope }> {
    const record = await this.#usableRecord(key.keyId)
    const dataKey = this.#random.bytes(dataKeyBytes)
    const generation = { keyId: key.keyId, generation: key.generation }
    if (bucketId === undefined) {
      const wrapping = await this.#wrappingKey(record, key.generation)
      const wrapped = wrapDataKey(wrapping, dataKey, dataKeyContext(generation, context), this.#random)
      return { dataKey, envelope: { ...generation, wrappedKey: wrapped.toString('base64') } }
    }
    const bucketKey = await this.#bucketKey(record, bucketId, key.generation)
    const wrapped = wrapDataKey({ id: Buffer.from('bucket key'), key: bucketKey }, dataKey, bucketDataKeyContext(bucketId, generation, context), this.#random)
    return { dataKey, envelope: { ...generation, wrappedKey: wrapped.toString('base64'), bucketKey: bucketId } }
  }

  /** The data key of an envelope, if its KMS key is Enabled (KMS.DisabledException otherwise). */
  async openDataKey(envelope: KmsEnvelope, context: string): Promise<Buffer> {
    const record = await this.#usableRecord(envelope.keyId)
    const wrapped = Buffer.from(envelope.wrappedKey, 'base64')
    try {
      if (envelope.bucketKey === undefined) {
        return unwrapDataKey(await this.#wrappingKey(record, envelope.generation), wrapped, dataKeyContext(envelope, context))
      }
      const bucketKey = await this.#bucketKey(record, envelope.bucketKey, envelope.generation)
      return unwrapDataKey({ id: Buffer.from('bucket key'), key: bucketKey }, wrapped, bucketDataKeyContext(envelope.bucketKey, envelope, context))
    } catch (error) {
      if (!isStoreError(error, 'KEY_UNAVAILABLE')) throw error
      throw new StoreError('KEY_UNAVAILABLE', `the data key of an object under KMS key ${envelope.keyId} (generation ${envelope.generation}) does not unwrap: the record is damaged`, { cause: error })
    }
  }

  /** The unwrapped bucket key of (bucket, key, generation), created on first use. */
  async #bucketKey(record: KmsKeyRecord, bucketId: number, generation: number): Promise<Buffer> {
    const cacheKey = `${bucketId}/${record.keyId}/${generation}`
    const cached = this.#bucketKeys.get(cacheKey)
    if (cached !== undefined) return cached
    const context = bucketKeyContext(bucketId, record.keyId, generation)
    const recordKey = bucketKeyKey(bucketId, record.keyId, generation)
    const what = `('kms','bucket-key',${bucketId},${record.keyId},${generation})`
    const wrapping = await this.#wrappingKey(record, generation)
    const wrapped = await this.#meta.transact(async (tx) => {
      const stored = await tx.get(recordKey)
      if (stored !== undefined) return Buffer.from(decodeBucketKey(stored, what).wrappedKey, 'base64')
      const created = wrapDataKey(wrapping, this.#random.bytes(dataKeyBytes), context, this.#random)
      tx.put(recordKey, encodeBucketKey({ wrappedKey: created.toString('base64'), createdMs: this.#clock.nowMs() }))
      return created
    })
    const bucketKey = unwrapDataKey(wrapping, wrapped, context)
    this.#bucketKeys.set(cacheKey, bucketKey)
    if (this.#bucketKeys.size > dataManagementLimits.bucketKeyCacheMax) {
      const oldest = this.#bucketKeys.keys().next()
      if (!oldest.done) this.#bucketKeys.delete(oldest.value)
    }
    return bucketKey
  }
}

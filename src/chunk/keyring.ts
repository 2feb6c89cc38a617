// The persisted key ring: one random data key per key domain, stored wrapped by the master key
// (docs/format/keys.md). Chunks in a domain are sealed with keys derived from its data key, so a
// master key rotation re-wraps data keys and never touches a chunk.
//
// Records (MetaStore):
//   key('key','master')            master key verifier: which master key this data dir is on,
//                                  plus a rotation target while a rotation runs
//   key('key','domain', id)        a domain's data key, wrapped, naming the master key id that wrapped it
//   key('sys','seq','keyDomain')   the last domain id allocated (0 is the plain domain)
// Invariants:
// - Every domain record is wrapped by the verifier's current key or, while it says "rotating",
//   by its target. New domains are wrapped by the key the verifier designates, read in the same
//   transaction, so a domain created during a rotation is never left behind on the old key.
// - A KeyRing only opens when it holds every master key that records may be wrapped by.
// - A data key record is never overwritten with a different data key, and never deleted here.
// Never: log or store key bytes; hand out a data key; return DomainKeys from a failed unwrap.
import {
  deriveDomainKeys,
  masterKeyIdBytes,
  plainDomainKeys,
  sealedOverheadBytes,
  unwrapDataKey,
  wrapDataKey,
  type DomainKeys,
  type MasterKey,
} from '../crypto/index.ts'
import { assert, keyDomainIdFrom, limits, plainDomain, StoreError, type KeyDomainId, type Random } from '../lib/index.ts'
import { decodeKey, encodeRecord, key, prefixRange, recordBody, type MetaStore, type ReadTx, type WriteTx } from '../meta/index.ts'

const verifierKey = key('key', 'master')
const domainCounterKey = key('sys', 'seq', 'keyDomain')
const domainKey = (domain: KeyDomainId): Buffer => key('key', 'domain', domain)
const domainRange = prefixRange('key', 'domain')

const recordVersion = 1
const wrappedDataKeyBytes = limits.dataKeyBytes + sealedOverheadBytes
const verifierCheckValue = Buffer.alloc(32) // the known value: 32 zero bytes
const verifierCheckBytes = verifierCheckValue.length + sealedOverheadBytes
const verifierContext = 'cairn master key verifier'
const dataKeyContext = (domain: KeyDomainId): string => `cairn key domain ${domain}`
const keyDomainIdMax = 0xffff_ffff

/** Unwrapped domains kept in memory (each is two 32-byte keys). */
const domainCacheMaxDefault = 4096
const rotationDomainsPerTransactionDefault = 256

// ---- record codecs -------------------------------------------------------------------------

interface Verifier {
  /** The master key the data dir is on. */
  currentId: Buffer
  /** Set while a rotation to this master key runs. */
  targetId: Buffer | undefined
  /** verifierCheckValue wrapped by the current key. */
  check: Buffer
}

const verifierBytes = 2 + 2 * masterKeyIdBytes + verifierCheckBytes

function encodeVerifier(verifier: Verifier): Buffer {
  assert(verifier.check.length === verifierCheckBytes, 'verifier check layout')
  const body = Buffer.alloc(verifierBytes - 1)
  body[0] = verifier.targetId ? 1 : 0
  verifier.currentId.copy(body, 1)
  verifier.targetId?.copy(body, 1 + masterKeyIdBytes)
  verifier.check.copy(body, 1 + 2 * masterKeyIdBytes)
  return encodeRecord(recordVersion, body)
}

/** Malformed stored bytes are corrupt metadata: IO_ERROR, as docs/format/meta-keys.md section 2 says. */
function corrupt(what: string, detail: string): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${detail}`)
}

function decodeVerifier(bytes: Buffer): Verifier {
  const what = "('key', 'master')"
  const { body } = recordBody(bytes, [recordVersion], what)
  if (bytes.length !== verifierBytes) throw corrupt(what, `${bytes.length} bytes, expected ${verifierBytes}`)
  const state = body[0]
  if (state !== 0 && state !== 1) throw corrupt(what, `state ${state}`)
  const idAt = (index: number): Buffer => Buffer.from(body.subarray(1 + index * masterKeyIdBytes, 1 + (index + 1) * masterKeyIdBytes))
  return { currentId: idAt(0), targetId: state === 1 ? idAt(1) : undefined, check: Buffer.from(body.subarray(1 + 2 * masterKeyIdBytes)) }
}

async function readVerifier(tx: ReadTx): Promise<Verifier> {
  const bytes = await tx.get(verifierKey)
  if (!bytes) throw new StoreError('KEY_UNAVAILABLE', 'the master key verifier is missing: the metadata is damaged')
  return decodeVerifier(bytes)
}

interface DomainRecord {
  wrappedBy: Buffer
  wrappedDataKey: Buffer
}

const domainRecordBytes = 1 + masterKeyIdBytes + wrappedDataKeyBytes

function encodeDomainRecord(record: DomainRecord): Buffer {
  assert(record.wrappedBy.length === masterKeyIdBytes && record.wrappedDataKey.length === wrappedDataKeyBytes, 'domain record layout')
  return encodeRecord(recordVersion, Buffer.concat([record.wrappedBy, record.wrappedDataKey]))
}

function decodeDomainRecord(domain: KeyDomainId, bytes: Buffer): DomainRecord {
  const what = `('key', 'domain', ${domain})`
  const { body } = recordBody(bytes, [recordVersion], what)
  if (bytes.length !== domainRecordBytes) throw corrupt(what, `${bytes.length} bytes, expected ${domainRecordBytes}`)
  return { wrappedBy: Buffer.from(body.subarray(0, masterKeyIdBytes)), wrappedDataKey: Buffer.from(body.subarray(masterKeyIdBytes)) }
}

/** Counter value: version (1) | last domain id handed out (u64 little-endian), like ('sys','seq','pack'). */
function decodeCounter(bytes: Buffer | undefined): number {
  if (bytes === undefined) return 0
  const what = "('sys', 'seq', 'keyDomain')"
  const { body } = recordBody(bytes, [recordVersion], what)
  if (body.length !== 8) throw corrupt(what, `${bytes.length} bytes, expected 9`)
  const last = body.readBigUInt64LE(0)
  if (last > BigInt(keyDomainIdMax)) throw corrupt(what, `last domain id ${last} is past ${keyDomainIdMax}`)
  return Number(last)
}

function encodeCounter(value: number): Buffer {
  const body = Buffer.alloc(8)
  body.writeBigUInt64LE(BigInt(value), 0)
  return encodeRecord(recordVersion, body)
}

function domainOfKey(encoded: Buffer): KeyDomainId {
  const id = decodeKey(encoded)[2]
  assert(typeof id === 'number', 'key domain records are keyed by number')
  return keyDomainIdFrom(id)
}

const hex = (id: Buffer): string => id.toString('hex')

// ---- the key ring --------------------------------------------------------------------------

export interface KeyRingOptions {
  meta: MetaStore
  masterKey: MasterKey
  random: Random
  /** The key before a rotation: lets a rotation that was interrupted be opened and resumed. */
  previousMasterKey?: MasterKey
  /** Unwrapped domains cached in memory (default 4096). */
  domainCacheMax?: number
}

export interface KeyDomainInfo {
  domain: KeyDomainId
  /** Hex id of the master key that wraps this domain's data key. */
  wrappedBy: string
}

export interface MasterKeyStatus {
  /** Hex id of the master key this data dir is on. */
  masterKeyId: string
  /** Hex id of the rotation target while a rotation is unfinished. */
  rotatingTo: string | undefined
}

export interface RotateOptions {
  /** Domain records re-wrapped per metadata transaction (default 256). */
  domainsPerTransaction?: number
  signal?: AbortSignal
}

export class KeyRing {
  readonly #meta: MetaStore
  readonly #random: Random
  /** Master keys this process holds, by hex id. */
  readonly #masters = new Map<string, MasterKey>()
  readonly #cache = new Map<KeyDomainId, DomainKeys>()
  readonly #cacheMax: number
  #rotating = false

  private constructor(options: KeyRingOptions) {
    this.#meta = options.meta
    this.#random = options.random
    this.#cacheMax = options.domainCacheMax ?? domainCacheMaxDefault
    assert(Number.isInteger(this.#cacheMax) && this.#cacheMax > 0, 'domainCacheMax is a positive integer')
    for (const master of [options.masterKey, options.previousMasterKey]) if (master) this.#masters.set(hex(master.id), master)
  }

  /** Open the key ring; on first open, record that this data dir is on options.masterKey. */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options)
    const verifier = await options.meta.transact(async (tx) => {
      const existing = await tx.get(verifierKey)
      if (existing) return decodeVerifier(existing)
      const anyDomain = await tx.scan({ ...domainRange, limit: 1 })
      if (anyDomain.length > 0) {
        throw new StoreError('KEY_UNAVAILABLE', 'key domain records exist but the master key verifier is missing: the metadata is damaged')
      }
      const created: Verifier = {
        currentId: options.masterKey.id,
        targetId: undefined,
        check: wrapDataKey(options.masterKey, verifierCheckValue, verifierContext, options.random),
      }
      tx.put(verifierKey, encodeVerifier(created))
      return created
    })
    ring.#checkVerifier(verifier, options.masterKey)
    return ring
  }

  #checkVerifier(verifier: Verifier, given: MasterKey): void {
    const current = this.#masters.get(hex(verifier.currentId))
    const heldIds = [...this.#masters.keys()].join(', ')
    const previous = [...this.#masters.keys()].filter((id) => id !== hex(given.id))
    if (verifier.targetId) {
      if (!current || !this.#masters.has(hex(verifier.targetId))) {
        throw new StoreError(
          'KEY_UNAVAILABLE',
          `a master key rotation from key id ${hex(verifier.currentId)} to ${hex(verifier.targetId)} was interrupted: ` +
            `start with the new key as the master key and the old one as the previous master key, then run the rotation again (got key ids ${heldIds})`,
        )
      }
    } else if (!current) {
      throw new StoreError(
        'KEY_UNAVAILABLE',
        `the master key does not match this data dir (expected key id ${hex(verifier.currentId)}, got ${hex(given.id)}` +
          `${previous.length > 0 ? `, previous ${previous.join(', ')}` : ''})`,
      )
    }
    const check = unwrapDataKey(current, verifier.check, verifierContext)
    if (!check.equals(verifierCheckValue)) throw corrupt("('key', 'master')", 'its check value is wrong')
  }

  #masterFor(id: Buffer, what: string): MasterKey {
    const master = this.#masters.get(hex(id))
    if (!master) {
      throw new StoreError('KEY_UNAVAILABLE', `${what} is wrapped by master key id ${hex(id)}, which this process does not hold`)
    }
    return master
  }

  /** The key that wraps new records: the rotation target while rotating, else the current key. */
  async #wrappingKey(tx: ReadTx): Promise<MasterKey> {
    const verifier = await readVerifier(tx)
    return this.#masterFor(verifier.targetId ?? verifier.currentId, 'this data dir')
  }

  /** Allocate a new encrypted key domain with a fresh random data key. */
  async createDomain(): Promise<KeyDomainId> {
    const created = await this.#meta.transact(async (tx) => {
      const master = await this.#wrappingKey(tx)
      const last = decodeCounter(await tx.get(domainCounterKey))
      if (last >= keyDomainIdMax) throw new StoreError('LIMIT_EXCEEDED', `all ${keyDomainIdMax} key domain ids are used`)
      const domain = keyDomainIdFrom(last + 1)
      if (await tx.get(domainKey(domain))) {
        // Never overwrite a data key: that would make every chunk of the domain unreadable.
        throw new StoreError('ALREADY_EXISTS', `key domain ${domain} already has a record but the domain counter says ${last}: the metadata is damaged`)
      }
      const dataKey = this.#random.bytes(limits.dataKeyBytes)
      assert(dataKey.length === limits.dataKeyBytes, 'random gave a short data key')
      const wrappedDataKey = wrapDataKey(master, dataKey, dataKeyContext(domain), this.#random)
      tx.put(domainCounterKey, encodeCounter(domain))
      tx.put(domainKey(domain), encodeDomainRecord({ wrappedBy: master.id, wrappedDataKey }))
      const keys = deriveDomainKeys(domain, dataKey)
      dataKey.fill(0)
      return keys
    })
    this.#remember(created)
    return created.domain
  }

  /** The keys of a domain: plainDomainKeys for 0, else the unwrapped (cached) domain keys. */
  async keysFor(domain: KeyDomainId): Promise<DomainKeys> {
    if (domain === plainDomain) return plainDomainKeys
    const cached = this.#cache.get(domain)
    if (cached) {
      // Refresh recency: Map iteration order is insertion order, the oldest is evicted first.
      this.#cache.delete(domain)
      this.#cache.set(domain, cached)
      return cached
    }
    const bytes = await this.#meta.read((tx) => tx.get(domainKey(domain)))
    if (!bytes) throw new StoreError('NOT_FOUND', `key domain ${domain} does not exist`)
    const keys = this.#unwrapRecord(domain, decodeDomainRecord(domain, bytes))
    this.#remember(keys)
    return keys
  }

  #unwrapRecord(domain: KeyDomainId, record: DomainRecord): DomainKeys {
    const master = this.#masterFor(record.wrappedBy, `key domain ${domain}`)
    const dataKey = unwrapDataKey(master, record.wrappedDataKey, dataKeyContext(domain))
    const keys = deriveDomainKeys(domain, dataKey)
    dataKey.fill(0)
    return keys
  }

  #remember(keys: DomainKeys): void {
    this.#cache.set(keys.domain, keys)
    if (this.#cache.size > this.#cacheMax) {
      const oldest = this.#cache.keys().next()
      if (!oldest.done) this.#cache.delete(oldest.value)
    }
  }

  /** Domains in id order, one page (admin use); continue with after = the last domain returned. */
  async listDomains(options: { after?: KeyDomainId; limit?: number } = {}): Promise<KeyDomainInfo[]> {
    const limit = options.limit ?? limits.metaScanPageMax
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.metaScanPageMax) {
      throw new StoreError('INVALID_ARGUMENT', `listDomains limit must be 1..${limits.metaScanPageMax}, got ${limit}`)
    }
    const gt = options.after === undefined ? domainRange.gt : domainKey(options.after)
    const entries = await this.#meta.read((tx) => tx.scan({ gt, lt: domainRange.lt, limit }))
    return entries.map((entry) => {
      const domain = domainOfKey(entry.key)
      return { domain, wrappedBy: hex(decodeDomainRecord(domain, entry.value).wrappedBy) }
    })
  }

  async masterStatus(): Promise<MasterKeyStatus> {
    const verifier = await this.#meta.read(readVerifier)
    return { masterKeyId: hex(verifier.currentId), rotatingTo: verifier.targetId ? hex(verifier.targetId) : undefined }
  }

  /**
   * Re-wrap every domain's data key with newMaster, then point the verifier at it. Crash-safe and
   * idempotent: the verifier records the target first, each page commits on its own, and running
   * it again (after opening with both keys) finishes the job. Chunks are never rewritten.
   */
  async rotateMaster(newMaster: MasterKey, options: RotateOptions = {}): Promise<{ rewrappedDomains: number }> {
    const perTransaction = options.domainsPerTransaction ?? rotationDomainsPerTransactionDefault
    assert(Number.isInteger(perTransaction) && perTransaction > 0 && perTransaction <= limits.metaScanPageMax, 'domainsPerTransaction in range')
    if (this.#rotating) throw new StoreError('CONFLICT', 'a master key rotation is already running in this process')
    this.#rotating = true
    try {
      this.#masters.set(hex(newMaster.id), newMaster)
      await this.#beginRotation(newMaster, options.signal)
      let rewrappedDomains = 0
      let cursor = domainRange.gt
      for (;;) {
        const page = await this.#meta.transact((tx) => this.#rewrapPage(tx, newMaster, cursor, perTransaction), { signal: options.signal })
        rewrappedDomains += page.rewrapped
        if (page.lastKey === undefined) break
        cursor = page.lastKey
      }
      await this.#finishRotation(newMaster, options.signal)
      return { rewrappedDomains }
    } finally {
      this.#rotating = false
    }
  }

  async #beginRotation(newMaster: MasterKey, signal: AbortSignal | undefined): Promise<void> {
    await this.#meta.transact(async (tx) => {
      const verifier = await readVerifier(tx)
      if (verifier.targetId && !verifier.targetId.equals(newMaster.id)) {
        throw new StoreError(
          'CONFLICT',
          `an interrupted rotation to master key id ${hex(verifier.targetId)} must be finished first (run it again with that key), not rotated to ${hex(newMaster.id)}`,
        )
      }
      if (verifier.targetId || verifier.currentId.equals(newMaster.id)) return // resuming, or already on it
      this.#masterFor(verifier.currentId, 'this data dir') // we must hold the key we rotate away from
      tx.put(verifierKey, encodeVerifier({ ...verifier, targetId: newMaster.id }))
    }, { signal })
  }

  /** Re-wrap one page of domain records after cursor; returns the last key seen (undefined at the end). */
  async #rewrapPage(tx: WriteTx, newMaster: MasterKey, cursor: Buffer, limit: number): Promise<{ rewrapped: number; lastKey: Buffer | undefined }> {
    const entries = await tx.scan({ gt: cursor, lt: domainRange.lt, limit })
    let rewrapped = 0
    for (const entry of entries) {
      const domain = domainOfKey(entry.key)
      const record = decodeDomainRecord(domain, entry.value)
      if (record.wrappedBy.equals(newMaster.id)) continue
      const master = this.#masterFor(record.wrappedBy, `key domain ${domain}`)
      const dataKey = unwrapDataKey(master, record.wrappedDataKey, dataKeyContext(domain))
      const wrappedDataKey = wrapDataKey(newMaster, dataKey, dataKeyContext(domain), this.#random)
      dataKey.fill(0)
      tx.put(entry.key, encodeDomainRecord({ wrappedBy: newMaster.id, wrappedDataKey }))
      rewrapped += 1
    }
    const last = entries.at(-1)
    return { rewrapped, lastKey: entries.length < limit ? undefined : last?.key }
  }

  async #finishRotation(newMaster: MasterKey, signal: AbortSignal | undefined): Promise<void> {
    await this.#meta.transact(async (tx) => {
      const verifier = await readVerifier(tx)
      if (!verifier.targetId && verifier.currentId.equals(newMaster.id)) return
      if (!verifier.targetId?.equals(newMaster.id)) {
        throw new StoreError('CONFLICT', `the master key verifier changed during the rotation to ${hex(newMaster.id)}; run the rotation again`)
      }
      const check = wrapDataKey(newMaster, verifierCheckValue, verifierContext, this.#random)
      tx.put(verifierKey, encodeVerifier({ currentId: newMaster.id, targetId: undefined, check }))
    }, { signal })
  }
}

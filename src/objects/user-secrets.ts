// UserSecrets: access key secrets sealed at rest (docs/format/objects.md 6).
//
// SigV4 needs the secret itself (an HMAC key), so it cannot be stored as a one-way hash. It is
// sealed with AES-256-GCM under a key derived (HKDF) from a key-ring domain of its own, with the
// access key id as associated data, so a record copied under another id does not open. The
// domain's data key is wrapped by the master key like every other domain, so master key
// rotation covers secrets without touching them.
//
// Contract: seal() then open() returns the secret; open() of a version 1 record (plain secret)
// returns it as stored. Without a key ring (a store opened without one: some tests) secrets
// stay plain. The domain is created on first use and recorded in ('admin','userSecretsDomain').
// Never: log a secret or the derived key.
import { hkdfSync } from 'node:crypto'
import { unwrapDataKey, wrapDataKey, type WrappingKey } from '../crypto/index.ts'
import { keyDomainIdFrom, StoreError, type KeyDomainId, type Random } from '../lib/index.ts'
import type { MetaStore } from '../meta/index.ts'
import { userSecretsDomainKey, type StoredSecret } from '../model/index.ts'
import type { KeyDomainSource } from './lifecycle-settings.ts'

const hkdfInfo = 'cairn v1 access key secrets'

function context(accessKeyId: string): string {
  return `cairn access key secret ${accessKeyId}`
}

export class UserSecrets {
  readonly #meta: MetaStore
  readonly #keys: KeyDomainSource | undefined
  readonly #random: Random
  #domain: Promise<KeyDomainId> | undefined
  readonly #wrappingKeys = new Map<number, Promise<WrappingKey>>()

  constructor(options: { meta: MetaStore; keys: KeyDomainSource | undefined; random: Random }) {
    this.#meta = options.meta
    this.#keys = options.keys
    this.#random = options.random
  }

  async seal(accessKeyId: string, secretKey: string): Promise<StoredSecret> {
    if (this.#keys === undefined) return { kind: 'plain', secretKey }
    const domain = await this.#currentDomain()
    const key = await this.#wrappingKey(domain)
    const sealed = wrapDataKey(key, Buffer.from(secretKey, 'utf8'), context(accessKeyId), this.#random)
    return { kind: 'sealed', domain, sealed: sealed.toString('base64') }
  }

  /** The secret; KEY_UNAVAILABLE when the record does not open (damaged, or moved to another id). */
  async open(accessKeyId: string, stored: StoredSecret): Promise<string> {
    if (stored.kind === 'plain') return stored.secretKey
    const key = await this.#wrappingKey(keyDomainIdFrom(stored.domain))
    return unwrapDataKey(key, Buffer.from(stored.sealed, 'base64'), context(accessKeyId)).toString('utf8')
  }

  #currentDomain(): Promise<KeyDomainId> {
    if (this.#domain === undefined) {
      const loading = this.#loadOrCreateDomain()
      loading.catch(() => {
        if (this.#domain === loading) this.#domain = undefined // a failed attempt is retried by the next seal
      })
      this.#domain = loading
    }
    return this.#domain
  }

  async #loadOrCreateDomain(): Promise<KeyDomainId> {
    const keys = this.#keys
    if (keys === undefined) throw new TypeError('sealing needs a key ring')
    const stored = await this.#meta.read((tx) => tx.get(userSecretsDomainKey()))
    if (stored !== undefined) return keyDomainIdFrom(Number(Buffer.from(stored).toString('utf8')))
    const created = await keys.createDomain()
    // Two servers never share a data dir, but two first seals may race here: the first recorded
    // domain wins and the other stays an unused domain.
    return this.#meta.transact(async (tx) => {
      const again = await tx.get(userSecretsDomainKey())
      if (again !== undefined) return keyDomainIdFrom(Number(Buffer.from(again).toString('utf8')))
      tx.put(userSecretsDomainKey(), Buffer.from(String(created), 'utf8'))
      return created
    })
  }

  #wrappingKey(domain: KeyDomainId): Promise<WrappingKey> {
    let key = this.#wrappingKeys.get(domain)
    if (key === undefined) {
      const keys = this.#keys
      if (keys === undefined) return Promise.reject(new StoreError('KEY_UNAVAILABLE', 'a sealed access key secret needs the key ring, and this store was opened without one'))
      key = keys.keysFor(domain).then((domainKeys) => {
        if (domainKeys.cipherKey === undefined) throw new StoreError('KEY_UNAVAILABLE', `key domain ${domain} (access key secrets) has no cipher key`)
        return { id: Buffer.from(`user-secrets/${domain}`), key: Buffer.from(hkdfSync('sha256', domainKeys.cipherKey, Buffer.alloc(0), hkdfInfo, 32)) }
      })
      key.catch(() => this.#wrappingKeys.delete(domain))
      this.#wrappingKeys.set(domain, key)
    }
    return key
  }
}

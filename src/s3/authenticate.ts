// Who sent a request: SigV4 verification (src/s3/auth) with secrets from the objects layer's
// UserService, and the Principal the objects layer authorises against. Anonymous requests are
// AccessDenied (the verifier says so); an unknown access key is InvalidAccessKeyId.
// Access keys are cached for s3ApiLimits.accessKeyCacheTtlMs so one request costs one lookup
// at most and a busy client none: a deleted user's key stops working within that window.
// Never logs or returns a secret.
import { s3ApiLimits, type Clock } from '../lib/index.ts'
import type { AccessKeyRecord, Principal, UserService } from '../objects/index.ts'
import { createSigV4Verifier, S3AuthError, type SigV4Request, type SigV4Verified, type SigV4Verifier } from './auth/index.ts'

export interface Authenticated {
  readonly principal: Principal
  readonly verified: SigV4Verified
}

interface CacheEntry {
  readonly record: AccessKeyRecord | undefined
  readonly expiresAtMs: number
}

export class Authenticator {
  readonly #users: UserService
  readonly #clock: Clock
  readonly #verifier: SigV4Verifier
  readonly #cache = new Map<string, CacheEntry>()

  constructor(options: { users: UserService; clock: Clock; region?: string }) {
    this.#users = options.users
    this.#clock = options.clock
    this.#verifier = createSigV4Verifier({
      clock: options.clock,
      ...(options.region === undefined ? {} : { region: options.region }),
      lookupSecret: async (accessKeyId) => (await this.#lookup(accessKeyId))?.secretKey,
    })
  }

  async authenticate(request: SigV4Request): Promise<Authenticated> {
    const verified = await this.#verifier.verify(request)
    const record = await this.#lookup(verified.accessKeyId)
    // The verifier found the secret a moment ago; it is gone only if the cache entry expired and
    // the key was deleted in between: the same as arriving a moment later.
    if (record === undefined) throw new S3AuthError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.')
    return { principal: record.principal, verified }
  }

  async #lookup(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const nowMs = this.#clock.nowMs()
    const cached = this.#cache.get(accessKeyId)
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached.record
    const record = await this.#users.lookupAccessKey(accessKeyId)
    this.#cache.delete(accessKeyId)
    this.#cache.set(accessKeyId, { record, expiresAtMs: nowMs + s3ApiLimits.accessKeyCacheTtlMs })
    if (this.#cache.size > s3ApiLimits.accessKeyCacheEntriesMax) {
      const oldest = this.#cache.keys().next()
      if (!oldest.done) this.#cache.delete(oldest.value)
    }
    return record
  }
}

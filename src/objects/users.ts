// Users and access keys (docs/format/objects.md 6). The root principal comes from the server's
// root credentials (setRootCredentials) and is never stored; its user id is 'root'. Other
// users get an AWS-shaped access key id (AKIA + 16) and a 40-character secret at creation.
// Invariants: every access key record names an existing user and the user lists it; a user
// who owns buckets cannot be deleted (NOT_EMPTY user).
// Secrets are sealed at rest (user-secrets.ts); resealPlainSecrets() upgrades old records.
// Never: log or return a secret except from createUser (once) and lookupAccessKey (for SigV4).
import { objectLimits, type Clock, type Random } from '../lib/index.ts'
import { scanAll, type MetaStore } from '../meta/index.ts'
import { accessKeyKey, accessKeyRange, decodeAccessKey, decodeUser, encodeAccessKey, encodeUser, ownerRange, userKey, userRange, type UserRecord } from '../model/index.ts'
import type { AccessKeyRecord, Principal, UserId, UserService } from './api.ts'
import { invalidArgument, ObjectsError } from './errors.ts'
import type { UserSecrets } from './user-secrets.ts'

export const rootUserId = 'root' as UserId

export interface RootCredentials {
  readonly accessKeyId: string
  readonly secretKey: string
}

export function rootPrincipal(accessKeyId: string): Principal {
  return { userId: rootUserId, accessKeyId, displayName: 'root', isRoot: true }
}

const userNamePattern = /^[A-Za-z0-9+=,.@_-]+$/
const upperAlphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const secretAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Characters drawn uniformly (alphabets of 32 or 64 symbols: no modulo bias). */
function randomText(random: Random, alphabet: string, length: number): string {
  const bytes = random.bytes(length)
  let text = ''
  for (const byte of bytes) text += alphabet[byte % alphabet.length]
  return text
}

function validateUserName(name: string): void {
  if (name.length < 1 || name.length > objectLimits.userNameCharsMax || !userNamePattern.test(name)) {
    throw invalidArgument('InvalidArgument', `user names are 1 to ${objectLimits.userNameCharsMax} characters of letters, digits and + = , . @ _ -`)
  }
  if (name === 'root') throw invalidArgument('InvalidArgument', "'root' names the root principal")
}

export class Users implements UserService {
  readonly #meta: MetaStore
  readonly #clock: Clock
  readonly #random: Random
  readonly #secrets: UserSecrets
  #root: RootCredentials | undefined

  constructor(options: { meta: MetaStore; clock: Clock; random: Random; secrets: UserSecrets; root?: RootCredentials }) {
    this.#meta = options.meta
    this.#clock = options.clock
    this.#random = options.random
    this.#secrets = options.secrets
    this.#root = options.root
  }

  /** Seal the secrets of access key records written before secrets were sealed; returns how many. */
  async resealPlainSecrets(): Promise<number> {
    const plain = await this.#meta.read(async (tx) => {
      const found: Array<{ accessKeyId: string; secretKey: string }> = []
      for await (const entry of scanAll(tx, accessKeyRange())) {
        const record = decodeAccessKey(entry.value, "('admin','accessKey',...)")
        if (record.secret.kind === 'plain') found.push({ accessKeyId: record.accessKeyId, secretKey: record.secret.secretKey })
      }
      return found
    })
    let resealed = 0
    for (const { accessKeyId, secretKey } of plain) {
      const secret = await this.#secrets.seal(accessKeyId, secretKey) // outside: it may create the domain
      if (secret.kind !== 'sealed') break // no key ring: nothing to seal with
      await this.#meta.transact(async (tx) => {
        const stored = await tx.get(accessKeyKey(accessKeyId))
        if (stored === undefined) return
        const record = decodeAccessKey(stored, `('admin','accessKey',${accessKeyId})`)
        if (record.secret.kind !== 'plain' || record.secret.secretKey !== secretKey) return
        tx.put(accessKeyKey(accessKeyId), encodeAccessKey({ ...record, secret }))
        resealed += 1
      })
    }
    return resealed
  }

  /** The server's root credentials; set once they are loaded (src/main). */
  setRootCredentials(root: RootCredentials): void {
    this.#root = { ...root }
  }

  async lookupAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const root = this.#root
    if (root !== undefined && accessKeyId === root.accessKeyId) return { principal: rootPrincipal(root.accessKeyId), secretKey: root.secretKey }
    const stored = await this.#meta.read((tx) => tx.get(accessKeyKey(accessKeyId)))
    if (stored === undefined) return undefined
    const record = decodeAccessKey(stored, `('admin','accessKey',${accessKeyId})`)
    return {
      principal: { userId: record.userId as UserId, accessKeyId, displayName: record.userName, isRoot: false },
      secretKey: await this.#secrets.open(accessKeyId, record.secret),
    }
  }

  async createUser(name: string): Promise<{ userId: UserId; name: string; accessKeyId: string; secretKey: string }> {
    validateUserName(name)
    const userId = `AIDA${randomText(this.#random, upperAlphanumeric, 17)}`
    const accessKeyId = `AKIA${randomText(this.#random, upperAlphanumeric, 16)}`
    const secretKey = randomText(this.#random, secretAlphabet, 40)
    const createdMs = this.#clock.nowMs()
    const secret = await this.#secrets.seal(accessKeyId, secretKey)
    await this.#meta.transact(async (tx) => {
      if ((await tx.get(userKey(name))) !== undefined) throw new ObjectsError('ALREADY_EXISTS', `user ${name} already exists`, { subject: 'user' })
      if (accessKeyId === this.#root?.accessKeyId || (await tx.get(accessKeyKey(accessKeyId))) !== undefined) {
        throw new ObjectsError('CONFLICT', 'generated access key id collides with an existing one; retry', { subject: 'user' })
      }
      tx.put(userKey(name), encodeUser({ userId, name, createdMs, accessKeyIds: [accessKeyId] }))
      tx.put(accessKeyKey(accessKeyId), encodeAccessKey({ accessKeyId, userId, userName: name, secret, createdMs }))
    })
    return { userId: userId as UserId, name, accessKeyId, secretKey }
  }

  async listUsers(): Promise<Array<{ userId: UserId; name: string; accessKeyIds: string[]; createdMs: number }>> {
    return this.#meta.read(async (tx) => {
      const users: Array<{ userId: UserId; name: string; accessKeyIds: string[]; createdMs: number }> = []
      for await (const entry of scanAll(tx, userRange())) {
        const record: UserRecord = decodeUser(entry.value, "('admin','user',...)")
        users.push({ userId: record.userId as UserId, name: record.name, accessKeyIds: [...record.accessKeyIds], createdMs: record.createdMs })
      }
      return users
    })
  }

  async deleteUser(name: string): Promise<void> {
    await this.#meta.transact(async (tx) => {
      const stored = await tx.get(userKey(name))
      if (stored === undefined) throw new ObjectsError('NOT_FOUND', `user ${name} does not exist`, { subject: 'user' })
      const record = decodeUser(stored, `('admin','user',${JSON.stringify(name)})`)
      const [owned] = await tx.scan({ ...ownerRange(record.userId), limit: 1 })
      if (owned !== undefined) throw new ObjectsError('NOT_EMPTY', `user ${name} still owns buckets: delete them first`, { subject: 'user' })
      for (const accessKeyId of record.accessKeyIds) tx.delete(accessKeyKey(accessKeyId))
      tx.delete(userKey(name))
    })
  }
}

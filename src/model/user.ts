// User and access key records (docs/format/objects.md 6): JSON after the version byte.
// SigV4 verification needs the secret itself, so it cannot be hashed: version 2 access key
// records hold it sealed under a key-ring domain (src/objects/user-secrets.ts); version 1
// records (plain secret) are still read, and resealed at start.
import { decodeJsonRecord, encodeJsonRecord } from '../meta/index.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export interface UserRecord {
  readonly userId: string
  readonly name: string
  readonly createdMs: number
  readonly accessKeyIds: readonly string[]
}

/** The secret of an access key as stored: sealed (version 2) or, in old records, plain. */
export type StoredSecret =
  | { readonly kind: 'sealed'; readonly domain: number; readonly sealed: string }
  | { readonly kind: 'plain'; readonly secretKey: string }

export interface AccessKeyRecordStored {
  readonly accessKeyId: string
  readonly userId: string
  readonly userName: string
  readonly secret: StoredSecret
  readonly createdMs: number
}

const userRecordVersion = 1
const plainSecretAccessKeyVersion = 1
const accessKeyRecordVersion = 2

function readerOf(bytes: Uint8Array, what: string, expected: number): ShapeReader {
  const { version, value } = decodeJsonRecord(bytes, what)
  if (version !== expected) throw corruptRecord(what, `unknown version ${version}`)
  return new ShapeReader(value, what)
}

export function encodeUser(record: UserRecord): Buffer {
  return encodeJsonRecord(userRecordVersion, record)
}

export function decodeUser(bytes: Uint8Array, what: string): UserRecord {
  const reader = readerOf(bytes, what, userRecordVersion)
  return {
    userId: reader.string('userId'),
    name: reader.string('name'),
    createdMs: reader.count('createdMs'),
    accessKeyIds: reader.stringArray('accessKeyIds'),
  }
}

/** Sealed secrets as version 2; plain ones (a store without a key ring) as version 1. */
export function encodeAccessKey(record: AccessKeyRecordStored): Buffer {
  const { secret, ...rest } = record
  return secret.kind === 'sealed'
    ? encodeJsonRecord(accessKeyRecordVersion, { ...rest, secretDomain: secret.domain, sealedSecret: secret.sealed })
    : encodeJsonRecord(plainSecretAccessKeyVersion, { ...rest, secretKey: secret.secretKey })
}

export function decodeAccessKey(bytes: Uint8Array, what: string): AccessKeyRecordStored {
  const { version } = decodeJsonRecord(bytes, what)
  const reader = readerOf(bytes, what, version === plainSecretAccessKeyVersion ? plainSecretAccessKeyVersion : accessKeyRecordVersion)
  const secret: StoredSecret = version === plainSecretAccessKeyVersion
    ? { kind: 'plain', secretKey: reader.string('secretKey') }
    : { kind: 'sealed', domain: reader.count('secretDomain'), sealed: reader.string('sealedSecret') }
  return {
    accessKeyId: reader.string('accessKeyId'),
    userId: reader.string('userId'),
    userName: reader.string('userName'),
    secret,
    createdMs: reader.count('createdMs'),
  }
}

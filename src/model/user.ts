// User and access key records (docs/format/objects.md 6): JSON after the version byte.
// The secret key is stored as given: SigV4 verification needs it (see the spec's warning).
import { decodeJsonRecord, encodeJsonRecord } from '../meta/index.ts'
import { ShapeReader, corruptRecord } from './shape.ts'

export interface UserRecord {
  readonly userId: string
  readonly name: string
  readonly createdMs: number
  readonly accessKeyIds: readonly string[]
}

export interface AccessKeyRecordStored {
  readonly accessKeyId: string
  readonly userId: string
  readonly userName: string
  readonly secretKey: string
  readonly createdMs: number
}

const userRecordVersion = 1
const accessKeyRecordVersion = 1

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

export function encodeAccessKey(record: AccessKeyRecordStored): Buffer {
  return encodeJsonRecord(accessKeyRecordVersion, record)
}

export function decodeAccessKey(bytes: Uint8Array, what: string): AccessKeyRecordStored {
  const reader = readerOf(bytes, what, accessKeyRecordVersion)
  return {
    accessKeyId: reader.string('accessKeyId'),
    userId: reader.string('userId'),
    userName: reader.string('userName'),
    secretKey: reader.string('secretKey'),
    createdMs: reader.count('createdMs'),
  }
}

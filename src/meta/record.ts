// Versioned record values (docs/format/meta-keys.md, "Values").
//
// Convention: every non-empty metadata value starts with one format version byte (1..255) of its
// record type; version 0 is reserved so that zeroed bytes never parse as a record. Empty values
// are markers (for example GC queue entries) and carry no version. Hot records (chunk
// locations) write their own binary layout after the version byte; cold records use the JSON
// helpers here: version byte, then UTF-8 JSON.
//
// Errors: bytes read back from the store that do not follow the convention are corrupt
// metadata. That is not caller input (INVALID_ARGUMENT) and not a chunk (CHUNK_CORRUPT), and an
// AssertionError would crash on a disk fault, so it is StoreError IO_ERROR ("metadata record
// ... is corrupt"), the code every front-end maps to a server-side I/O failure. Encoding with a
// bad version or an unserializable value is a bug in the caller: TypeError.
import { StoreError } from '../lib/index.ts'

export const recordVersionMin = 1
export const recordVersionMax = 255

function corrupt(what: string, reason: string, cause?: unknown): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${reason}`, cause === undefined ? undefined : { cause })
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < recordVersionMin || version > recordVersionMax) {
    throw new TypeError(`record versions are integers in ${recordVersionMin}..${recordVersionMax}, got ${version}`)
  }
}

/** The format version byte of a stored record; StoreError IO_ERROR when there is none. */
export function recordVersion(bytes: Uint8Array, what = '(unnamed)'): number {
  const version = bytes[0]
  if (version === undefined) throw corrupt(what, 'empty value has no version byte')
  if (version < recordVersionMin) throw corrupt(what, `version byte ${version} is reserved`)
  return version
}

/** A record body after its version byte, checking the version is one the reader supports. */
export function recordBody(bytes: Uint8Array, supportedVersions: readonly number[], what = '(unnamed)'): { version: number; body: Buffer } {
  const version = recordVersion(bytes, what)
  if (!supportedVersions.includes(version)) {
    throw corrupt(what, `version ${version} is not one of the supported versions ${supportedVersions.join(', ')}`)
  }
  return { version, body: Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1) }
}

/** Prefix an encoded body with its version byte. */
export function encodeRecord(version: number, body: Uint8Array): Buffer {
  checkVersion(version)
  const record = Buffer.allocUnsafe(1 + body.length)
  record[0] = version
  record.set(body, 1)
  return record
}

/** Encode a cold record: version byte, then UTF-8 JSON of value. */
export function encodeJsonRecord(version: number, value: unknown): Buffer {
  checkVersion(version)
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('JSON records need a JSON-serializable value')
  return encodeRecord(version, Buffer.from(json, 'utf8'))
}

/** Decode a cold record written by encodeJsonRecord; the caller validates the value's shape. */
export function decodeJsonRecord(bytes: Uint8Array, what = '(unnamed)'): { version: number; value: unknown } {
  const version = recordVersion(bytes, what)
  const json = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1)
  try {
    // A fatal decoder rejects invalid UTF-8 instead of replacing it with U+FFFD.
    return { version, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) }
  } catch (error) {
    throw corrupt(what, 'body is not UTF-8 JSON', error)
  }
}

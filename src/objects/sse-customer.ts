// SSE-C: server-side encryption with a key the customer sends with every request
// (docs/encryption.md 3). Cairn never stores the key.
//
// Per version (or multipart upload) a random salt is stored with
//   keyHmac = HMAC-SHA256(key = customer key, "cairn sse-c key check" || 0x00 || salt)
// to tell a right key from a wrong one, and the data is encrypted with
//   dataKey = HKDF-SHA256(ikm = customer key, salt, info = "cairn sse-c data key", 32 bytes)
// in AES-256-CTR. CTR keeps lengths, so chunking, ranges, part sizes and the chunk store's own
// integrity check (chunk id = hash of the stored bytes, re-verified on every read) work on the
// ciphertext unchanged. Each independently written stream has its own counter space: the
// 16-byte counter block is u32 BE stream index (0 for a single PUT, the part number for parts),
// 4 zero bytes, u64 BE block number within the stream; byte offset o of a stream is keystream
// block o/16, byte o%16. A salt is never reused, so no (key, counter) pair encrypts twice.
// Never: keep a customer key or data key past the request that brought it; decrypt with a key
// whose HMAC did not match.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual, type Decipheriv } from 'node:crypto'
import { assert, dataManagementLimits, type Random } from '../lib/index.ts'
import type { StoredEncryption, VersionRecord } from '../model/index.ts'
import { ObjectsError } from './errors.ts'

export const customerKeyBytes = 32
const blockBytes = 16

export type CustomerEncryption = Extract<StoredEncryption, { kind: 'SSE-C' }>

function keyHmac(customerKey: Buffer, salt: Buffer): Buffer {
  return createHmac('sha256', customerKey).update('cairn sse-c key check\0').update(salt).digest()
}

function dataKeyOf(customerKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', customerKey, salt, 'cairn sse-c data key', 32))
}

/** A new SSE-C record for a version or upload, and the data key to encrypt it with. */
export function newCustomerEncryption(customerKey: Buffer, random: Random): { stored: CustomerEncryption; dataKey: Buffer } {
  assert(customerKey.length === customerKeyBytes, 'the edge checked the customer key length')
  const salt = random.bytes(dataManagementLimits.customerKeySaltBytes)
  return { stored: { kind: 'SSE-C', salt: salt.toString('base64'), keyHmac: keyHmac(customerKey, salt).toString('base64') }, dataKey: dataKeyOf(customerKey, salt) }
}

export function missingCustomerKey(): ObjectsError {
  return new ObjectsError('INVALID_ARGUMENT', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.', { hint: 'InvalidRequest' })
}

/**
 * The data key of an SSE-C version or upload for the key a request sent: INVALID_ARGUMENT
 * (InvalidRequest, 400) without a key, ACCESS_DENIED (403) for a wrong one.
 */
export function customerDataKey(stored: CustomerEncryption, customerKey: Buffer | undefined): Buffer {
  if (customerKey === undefined) throw missingCustomerKey()
  const salt = Buffer.from(stored.salt, 'base64')
  const expected = Buffer.from(stored.keyHmac, 'base64')
  const actual = keyHmac(customerKey, salt)
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new ObjectsError('ACCESS_DENIED', 'Access Denied: the SSE-C key does not match the key the object was encrypted with')
  }
  return dataKeyOf(customerKey, salt)
}

/** A key sent for data that is not SSE-C: InvalidRequest, as AWS answers. */
export function rejectUnexpectedCustomerKey(customerKey: Buffer | undefined): void {
  if (customerKey !== undefined) {
    throw new ObjectsError('INVALID_ARGUMENT', 'The encryption parameters are not applicable to this object.', { hint: 'InvalidRequest' })
  }
}

function counterBlock(streamIndex: number, blockIndex: number): Buffer {
  const block = Buffer.alloc(blockBytes)
  block.writeUInt32BE(streamIndex, 0)
  block.writeBigUInt64BE(BigInt(blockIndex), 8)
  return block
}

/** Encrypt a stream from its first byte (length preserved). */
export async function* encryptStream(body: AsyncIterable<Uint8Array>, dataKey: Buffer, streamIndex: number): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-ctr', dataKey, counterBlock(streamIndex, 0))
  for await (const piece of body) {
    const out = cipher.update(piece)
    if (out.length > 0) yield out
  }
  const tail = cipher.final()
  if (tail.length > 0) yield tail
}

/** The independently encrypted streams of a version, in object order. */
export function streamLayout(record: Pick<VersionRecord, 'data' | 'sizeBytes'>): Array<{ streamIndex: number; sizeBytes: number }> {
  const data = record.data
  if (data.kind === 'segments' && data.multipart) return data.segments.map((segment) => ({ streamIndex: segment.index, sizeBytes: segment.sizeBytes }))
  return [{ streamIndex: 0, sizeBytes: record.sizeBytes }]
}

function decipherAt(dataKey: Buffer, streamIndex: number, offset: number): Decipheriv {
  const decipher = createDecipheriv('aes-256-ctr', dataKey, counterBlock(streamIndex, Math.floor(offset / blockBytes)))
  const skip = offset % blockBytes
  if (skip > 0) decipher.update(Buffer.alloc(skip))
  return decipher
}

/** Decrypt the ciphertext of object bytes [first, ...] streamed in order (length preserved). */
export async function* decryptBody(
  body: AsyncIterable<Buffer>,
  dataKey: Buffer,
  layout: ReadonlyArray<{ streamIndex: number; sizeBytes: number }>,
  first: number,
): AsyncGenerator<Buffer> {
  let stream = 0
  let offset = first // within layout[stream]
  while (stream < layout.length && offset >= (layout[stream]?.sizeBytes ?? 0)) offset -= layout[stream++]?.sizeBytes ?? 0
  let decipher: Decipheriv | undefined
  for await (const piece of body) {
    let at = 0
    while (at < piece.length) {
      const current = layout[stream]
      assert(current !== undefined, 'a body is no longer than its layout')
      decipher ??= decipherAt(dataKey, current.streamIndex, offset)
      const take = Math.min(piece.length - at, current.sizeBytes - offset)
      yield decipher.update(piece.subarray(at, at + take))
      at += take
      offset += take
      if (offset === current.sizeBytes) {
        stream += 1
        offset = 0
        decipher = undefined
      }
    }
  }
}

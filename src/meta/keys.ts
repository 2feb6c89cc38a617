// Tuple-encoded, memcmp-ordered metadata keys (docs/format/meta-keys.md).
//
// A key is a tuple of parts; each part is a type byte then its body:
//   0x01 bytes   body with 0x00 escaped as 0x00 0xff, terminated by 0x00
//   0x02 string  UTF-8, escaped and terminated like bytes
//   0x10 uint    8 bytes big-endian (non-negative safe integer)
// Encoded tuples compare (memcmp) in the same order as their parts compare element-wise,
// and a tuple sorts before every tuple it is a proper prefix of, so prefixes give ranges.
import { assert } from '../lib/index.ts'

export type KeyPart = string | number | Uint8Array

const typeBytes = 0x01
const typeString = 0x02
const typeUint = 0x10

function escaped(body: Uint8Array): Buffer {
  let zeros = 0
  for (const byte of body) if (byte === 0) zeros += 1
  const out = Buffer.allocUnsafe(body.length + zeros + 1)
  let at = 0
  for (const byte of body) {
    out[at++] = byte
    if (byte === 0) out[at++] = 0xff
  }
  out[at] = 0
  return out
}

function encodePart(part: KeyPart): Buffer[] {
  if (typeof part === 'number') {
    assert(Number.isSafeInteger(part) && part >= 0, 'key integers are non-negative safe integers')
    const body = Buffer.allocUnsafe(9)
    body[0] = typeUint
    body.writeBigUInt64BE(BigInt(part), 1)
    return [body]
  }
  if (typeof part === 'string') return [Buffer.of(typeString), escaped(Buffer.from(part, 'utf8'))]
  return [Buffer.of(typeBytes), escaped(part)]
}

/** Encode a tuple key. */
export function key(...parts: KeyPart[]): Buffer {
  return Buffer.concat(parts.flatMap(encodePart))
}

/** The smallest key greater than every key that starts with prefix (exclusive range end). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  return Buffer.concat([prefix, Buffer.of(0xff)])
}

/** Range covering every key that extends the tuple `parts` (not the tuple itself). */
export function prefixRange(...parts: KeyPart[]): { gt: Buffer; lt: Buffer } {
  const prefix = key(...parts)
  return { gt: prefix, lt: prefixEnd(prefix) }
}

/** Decode a tuple key; throws TypeError on bytes that are not a tuple key. */
export function decodeKey(encoded: Uint8Array): KeyPart[] {
  const parts: KeyPart[] = []
  let at = 0
  while (at < encoded.length) {
    const type = encoded[at++]
    if (type === typeUint) {
      if (at + 8 > encoded.length) throw new TypeError('truncated integer in key')
      const value = Buffer.from(encoded.buffer, encoded.byteOffset + at, 8).readBigUInt64BE(0)
      parts.push(Number(value))
      at += 8
      continue
    }
    if (type !== typeBytes && type !== typeString) throw new TypeError(`unknown key part type ${type}`)
    const body: number[] = []
    for (;;) {
      if (at >= encoded.length) throw new TypeError('unterminated key part')
      const byte = encoded[at++] as number
      if (byte !== 0) {
        body.push(byte)
        continue
      }
      if (encoded[at] === 0xff) {
        body.push(0)
        at += 1
        continue
      }
      break
    }
    parts.push(type === typeString ? Buffer.from(body).toString('utf8') : Buffer.from(body))
  }
  return parts
}

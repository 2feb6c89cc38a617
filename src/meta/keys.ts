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

const twoTo32 = 2 ** 32

function zerosIn(body: Uint8Array): number {
  let zeros = 0
  for (let i = body.indexOf(0); i !== -1; i = body.indexOf(0, i + 1)) zeros += 1
  return zeros
}

/** Write body escaped (0x00 -> 0x00 0xff) and terminated at out[at]; returns the end. */
function writeEscaped(out: Buffer, at: number, body: Uint8Array, zeros: number): number {
  if (zeros === 0) {
    out.set(body, at)
    at += body.length
  } else {
    for (const byte of body) {
      out[at++] = byte
      if (byte === 0) out[at++] = 0xff
    }
  }
  out[at] = 0
  return at + 1
}

/**
 * Encode a tuple key. One allocation: the first pass sizes the key, the second writes it
 * (this runs for every metadata read and write, so no per-part Buffers). Strings without NUL
 * (all but odd names) are written as UTF-8 in place; the bytes are those of the format above.
 */
export function key(...parts: KeyPart[]): Buffer {
  let size = 0
  let slow: (Buffer | undefined)[] | undefined
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i] as KeyPart
    if (typeof part === 'number') {
      assert(Number.isSafeInteger(part) && part >= 0, 'key integers are non-negative safe integers')
      size += 9
    } else if (typeof part === 'string') {
      if (part.includes('\0')) {
        slow ??= []
        const bytes = Buffer.from(part, 'utf8')
        slow[i] = bytes
        size += 2 + bytes.length + zerosIn(bytes)
      } else {
        size += 2 + Buffer.byteLength(part, 'utf8')
      }
    } else {
      size += 2 + part.length + zerosIn(part)
    }
  }
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i] as KeyPart
    if (typeof part === 'number') {
      out[at] = typeUint
      out.writeUInt32BE(Math.floor(part / twoTo32), at + 1)
      out.writeUInt32BE(part >>> 0, at + 5)
      at += 9
    } else if (typeof part === 'string') {
      out[at++] = typeString
      const bytes = slow?.[i]
      if (bytes !== undefined) {
        at = writeEscaped(out, at, bytes, zerosIn(bytes))
      } else {
        at += out.write(part, at, 'utf8')
        out[at++] = 0
      }
    } else {
      out[at++] = typeBytes
      at = writeEscaped(out, at, part, zerosIn(part))
    }
  }
  return out
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

// CRC combination: crc(A || B) from crc(A), crc(B) and len(B), without the data. This is how a
// FULL_OBJECT multipart checksum is computed from the part checksums at CompleteMultipartUpload.
// Valid for reflected CRCs whose init equals their xorout (CRC-32, CRC-32C and CRC-64/NVME all
// use all-ones for both), by the identity crc(A||B) = crc(A) * x^(8*len(B)) mod P xor crc(B).
// Arithmetic is zlib's multmodp/x2nmodp (GF(2) polynomial products) over BigInt so one code path
// serves widths 32 and 64; it costs O(log len) products per part.
import { assert } from '../assert.ts'

export interface CrcParameters {
  readonly width: 32 | 64
  /** The reflected polynomial. */
  readonly polynomial: bigint
}

export const crc32Parameters: CrcParameters = { width: 32, polynomial: 0xedb88320n }
export const crc32cParameters: CrcParameters = { width: 32, polynomial: 0x82f63b78n }
export const crc64NvmeParameters: CrcParameters = { width: 64, polynomial: 0x9a6c9329ac4bc9b5n }

/** a(x) * b(x) mod P(x), in the reflected representation. */
function multiplyModP(parameters: CrcParameters, a: bigint, b: bigint): bigint {
  let bit = 1n << BigInt(parameters.width - 1)
  let product = 0n
  let multiplicand = b
  while (bit !== 0n) {
    if (a & bit) {
      product ^= multiplicand
      if ((a & (bit - 1n)) === 0n) break
    }
    bit >>= 1n
    multiplicand = multiplicand & 1n ? (multiplicand >> 1n) ^ parameters.polynomial : multiplicand >> 1n
  }
  return product
}

const powerTables = new WeakMap<CrcParameters, bigint[]>()

/** table[k] = x^(2^k) mod P, for k < 64 (enough for any byte length below 2^61). */
function powerTable(parameters: CrcParameters): bigint[] {
  let table = powerTables.get(parameters)
  if (!table) {
    table = [1n << BigInt(parameters.width - 2)]
    for (let k = 1; k < 64; k++) {
      const previous = table[k - 1]!
      table.push(multiplyModP(parameters, previous, previous))
    }
    powerTables.set(parameters, table)
  }
  return table
}

/** The last operator computed per CRC: multipart parts are mostly the same size. */
const lastShiftOperators = new WeakMap<CrcParameters, { lengthBytes: number; operator: bigint }>()

/** x^(lengthBytes * 8) mod P. */
function shiftOperator(parameters: CrcParameters, lengthBytes: number): bigint {
  const last = lastShiftOperators.get(parameters)
  if (last?.lengthBytes === lengthBytes) return last.operator
  const operator = computeShiftOperator(parameters, lengthBytes)
  lastShiftOperators.set(parameters, { lengthBytes, operator })
  return operator
}

function computeShiftOperator(parameters: CrcParameters, lengthBytes: number): bigint {
  const table = powerTable(parameters)
  let power = 1n << BigInt(parameters.width - 1)
  let remaining = BigInt(lengthBytes)
  let k = 3 // 8 bits per byte: start at x^(2^3)
  while (remaining > 0n) {
    if (remaining & 1n) power = multiplyModP(parameters, table[k]!, power)
    remaining >>= 1n
    k++
  }
  return power
}

/** crc(A || B) given crc(A), crc(B) (as unsigned integers, xorout applied) and len(B). */
export function combineCrc(parameters: CrcParameters, crcA: bigint, crcB: bigint, lengthBBytes: number): bigint {
  assert(Number.isSafeInteger(lengthBBytes) && lengthBBytes >= 0, 'length is a non-negative integer')
  if (lengthBBytes === 0) return crcA
  return multiplyModP(parameters, shiftOperator(parameters, lengthBBytes), crcA) ^ crcB
}

export function crcFromDigest(digest: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(digest).toString('hex') || '0'}`)
}

export function crcToDigest(parameters: CrcParameters, crc: bigint): Buffer {
  return Buffer.from(crc.toString(16).padStart(parameters.width / 4, '0'), 'hex')
}

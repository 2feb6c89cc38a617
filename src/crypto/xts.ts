// AES-256-XTS for the sectors of encrypted volume head files (IEEE 1619, as dm-crypt uses it).
//
// Contract: the tweak of sector n is n as a 128-bit little-endian integer (dm-crypt "plain64"),
// so equal plaintext in different sectors gives different ciphertext, and a sector encrypts to
// the same size. XTS is length-preserving and unauthenticated: it hides data at rest but does
// not detect tampering (the chunk store's ids do that for snapshots). Sectors are at least 16
// bytes (one AES block); Cairn uses 4 KiB. The 64-byte key is two AES-256 keys that must differ.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { assert } from '../lib/index.ts'

export const xtsKeyBytes = 64
const algorithm = 'aes-256-xts'
const blockBytes = 16

function tweakOf(sectorIndex: bigint | number): Buffer {
  const index = BigInt(sectorIndex)
  assert(index >= 0n && index < 1n << 64n, 'sector index is a u64')
  const tweak = Buffer.alloc(blockBytes)
  tweak.writeBigUInt64LE(index, 0)
  return tweak
}

function checkArguments(key64: Buffer, data: Uint8Array, out: Uint8Array | undefined): void {
  assert(key64.length === xtsKeyBytes, `XTS keys are ${xtsKeyBytes} bytes`)
  // OpenSSL refuses equal halves too, but with a plain Error; a caller handing us one is a bug.
  assert(!key64.subarray(0, 32).equals(key64.subarray(32)), 'the two halves of an XTS key differ')
  assert(data.length >= blockBytes, `XTS sectors are at least ${blockBytes} bytes`)
  assert(out === undefined || out.length >= data.length, 'out holds the sector')
}

function run(decrypt: boolean, key64: Buffer, sectorIndex: bigint | number, data: Uint8Array, out: Uint8Array | undefined): Buffer {
  checkArguments(key64, data, out)
  const tweak = tweakOf(sectorIndex)
  const cipher = decrypt ? createDecipheriv(algorithm, key64, tweak) : createCipheriv(algorithm, key64, tweak)
  // node has no update-into; XTS needs the whole sector in one update (ciphertext stealing).
  const result = cipher.update(data)
  const rest = cipher.final()
  assert(rest.length === 0 && result.length === data.length, 'XTS is length-preserving')
  if (out === undefined) return result
  const target = Buffer.from(out.buffer, out.byteOffset, data.length)
  result.copy(target)
  return target
}

/** Encrypt one sector; returns out (when given, filled with data.length bytes) or a new buffer. */
export function xtsEncryptSector(key64: Buffer, sectorIndex: bigint | number, data: Uint8Array, out?: Uint8Array): Buffer {
  return run(false, key64, sectorIndex, data, out)
}

/** Decrypt one sector; returns out (when given, filled with data.length bytes) or a new buffer. */
export function xtsDecryptSector(key64: Buffer, sectorIndex: bigint | number, data: Uint8Array, out?: Uint8Array): Buffer {
  return run(true, key64, sectorIndex, data, out)
}

// Branded id types so that ids of different kinds cannot be swapped by accident.
import { assert } from './assert.ts'

declare const brand: unique symbol
export type Brand<T, B extends string> = T & { readonly [brand]: B }

/** 32-byte chunk id: hash of the plaintext (keyed hash in an encrypted key domain). */
export type ChunkId = Brand<Buffer, 'ChunkId'>
/** Pack file number, unique per data dir, never reused. */
export type PackId = Brand<number, 'PackId'>
/** Key domain number; 0 is the unencrypted default domain. */
export type KeyDomainId = Brand<number, 'KeyDomainId'>

export const chunkIdBytes = 32

export function chunkIdFrom(bytes: Uint8Array): ChunkId {
  assert(bytes.length === chunkIdBytes, `chunk id must be ${chunkIdBytes} bytes`)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as ChunkId
}

export function chunkIdHex(id: ChunkId): string {
  return id.toString('hex')
}

export function chunkIdFromHex(hex: string): ChunkId {
  assert(/^[0-9a-f]{64}$/.test(hex), 'chunk id hex must be 64 lowercase hex digits')
  return Buffer.from(hex, 'hex') as ChunkId
}

export function packIdFrom(value: number): PackId {
  assert(Number.isSafeInteger(value) && value > 0, 'pack id must be a positive integer')
  return value as PackId
}

export const plainDomain = 0 as KeyDomainId

export function keyDomainIdFrom(value: number): KeyDomainId {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, 'key domain id must be u32')
  return value as KeyDomainId
}

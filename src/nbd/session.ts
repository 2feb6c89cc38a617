// What the handshake hands to the transmission phase, and the pure rules both phases share:
// the transmission flags and block sizes a client is told for an export.
//
// Invariants: the flags advertise only what the server serves (NBD_FLAG_SEND_DF only with
// structured replies, SEND_FAST_ZERO only with SEND_WRITE_ZEROES, no trim/zeroes on read-only
// exports, CAN_MULTI_CONN only when the export says so). Block sizes follow the spec's rules
// (powers of two, minimum <= 64 KiB, maximum a multiple of the minimum); an export violating
// them is a bug in the volumes layer and fails an assertion here.
import { assert, type nbdLimits } from '../lib/index.ts'
import type { BlockExport, BlockSizes } from '../volumes/api.ts'
import {
  NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_CACHE, NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FAST_ZERO, NBD_FLAG_SEND_FLUSH, NBD_FLAG_SEND_FUA, NBD_FLAG_SEND_TRIM, NBD_FLAG_SEND_WRITE_ZEROES,
} from './protocol.ts'

/** The NBD server's limits (defaults in src/lib/limits.ts; tests may shrink them). */
export type NbdLimits = { -readonly [Name in keyof typeof nbdLimits]: number }

export interface LogMethod {
  (message: string): void
  (fields: object, message?: string): void
}

/** The part of Cairn's logger (pino's calling convention) the NBD server uses. */
export interface NbdLogger {
  debug: LogMethod
  info: LogMethod
  warn: LogMethod
  error: LogMethod
}

export type ExportInfo = Omit<BlockExport, 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes' | 'blockStatus' | 'cache' | 'release'>

/** Negotiated state for one connection in the transmission phase. */
export interface Session {
  readonly exportName: string
  readonly blockExport: BlockExport
  readonly structuredReplies: boolean
  /** The base:allocation context id, when SET_META_CONTEXT selected it for this export. */
  readonly allocationContextId: number | undefined
  readonly transmissionFlags: number
  readonly blockSizes: BlockSizes
}

export function transmissionFlagsFor(info: ExportInfo, structuredReplies: boolean): number {
  let flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE
  if (info.readOnly) flags |= NBD_FLAG_READ_ONLY
  if (!info.readOnly && info.canTrim) flags |= NBD_FLAG_SEND_TRIM
  if (!info.readOnly && info.canWriteZeroes) {
    flags |= NBD_FLAG_SEND_WRITE_ZEROES
    // Advertised even when zeroing is never fast: the export then fails FAST_ZERO at once with
    // NOT_IMPLEMENTED (NBD_ENOTSUP), which is what lets a copier skip pre-zeroing (spec).
    flags |= NBD_FLAG_SEND_FAST_ZERO
  }
  if (structuredReplies) flags |= NBD_FLAG_SEND_DF
  if (info.multiConn) flags |= NBD_FLAG_CAN_MULTI_CONN
  return flags
}

/** The block sizes advertised with NBD_INFO_BLOCK_SIZE and enforced at the edge. */
export function advertisedBlockSizes(info: ExportInfo, limits: NbdLimits): BlockSizes {
  const { minimumBytes, preferredBytes } = info.blockSizes
  assert(isPowerOfTwo(minimumBytes) && minimumBytes <= 65536, `export ${info.name}: minimum block size ${minimumBytes} is a power of two <= 64 KiB`)
  assert(isPowerOfTwo(preferredBytes) && preferredBytes >= Math.max(minimumBytes, 512), `export ${info.name}: preferred block size ${preferredBytes} is a power of two >= max(minimum, 512)`)
  // A power-of-two cap keeps the maximum a multiple of the minimum.
  const cap = largestPowerOfTwoAtMost(limits.requestMaxBytes)
  const maximumBytes = Math.min(info.blockSizes.maximumBytes, cap)
  assert(maximumBytes % minimumBytes === 0, `export ${info.name}: maximum block size ${maximumBytes} is a multiple of the minimum`)
  assert(maximumBytes >= Math.min(preferredBytes, info.sizeBytes), `export ${info.name}: maximum block size is at least the preferred one`)
  return { minimumBytes, preferredBytes, maximumBytes }
}

function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && Number.isInteger(Math.log2(value))
}

function largestPowerOfTwoAtMost(value: number): number {
  let power = 1
  while (power * 2 <= value) power *= 2
  return power
}

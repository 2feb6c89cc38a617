// NBD wire format: constants (named exactly as in the NBD protocol document, doc/proto.md of
// NetworkBlockDevice/nbd) and pure encoders/decoders for the fixed newstyle handshake, option
// requests and replies, transmission requests, and simple and structured replies.
//
// Contract: decoders never throw on client bytes; they return a value or a `ProtocolViolation`
// describing what was wrong (the caller answers NBD_REP_ERR_INVALID or disconnects). Encoders
// take values the server produced and assert them (a wrong value there is a bug). All integers
// are big-endian. Nothing here touches sockets or exports.
import { isUtf8 } from 'node:buffer'
import { assert } from '../lib/index.ts'

// ---- Magic numbers.
export const NBDMAGIC = 0x4e42444d41474943n // 'NBDMAGIC' (INIT_PASSWD)
export const IHAVEOPT = 0x49484156454f5054n // 'IHAVEOPT'
export const NBD_REP_MAGIC = 0x3e889045565a9n // option reply magic
export const NBD_REQUEST_MAGIC = 0x25609513
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef

// ---- Handshake flags (server, 16 bits) and client flags (32 bits).
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0
export const NBD_FLAG_NO_ZEROES = 1 << 1
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0
export const NBD_FLAG_C_NO_ZEROES = 1 << 1

// ---- Transmission flags (16 bits).
export const NBD_FLAG_HAS_FLAGS = 1 << 0
export const NBD_FLAG_READ_ONLY = 1 << 1
export const NBD_FLAG_SEND_FLUSH = 1 << 2
export const NBD_FLAG_SEND_FUA = 1 << 3
export const NBD_FLAG_ROTATIONAL = 1 << 4
export const NBD_FLAG_SEND_TRIM = 1 << 5
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6
export const NBD_FLAG_SEND_DF = 1 << 7
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8
export const NBD_FLAG_SEND_RESIZE = 1 << 9
export const NBD_FLAG_SEND_CACHE = 1 << 10
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11

// ---- Options.
export const NBD_OPT_EXPORT_NAME = 1
export const NBD_OPT_ABORT = 2
export const NBD_OPT_LIST = 3
export const NBD_OPT_PEEK_EXPORT = 4
export const NBD_OPT_STARTTLS = 5
export const NBD_OPT_INFO = 6
export const NBD_OPT_GO = 7
export const NBD_OPT_STRUCTURED_REPLY = 8
export const NBD_OPT_LIST_META_CONTEXT = 9
export const NBD_OPT_SET_META_CONTEXT = 10

// ---- Option reply types. Errors have bit 31 set.
export const NBD_REP_ACK = 1
export const NBD_REP_SERVER = 2
export const NBD_REP_INFO = 3
export const NBD_REP_META_CONTEXT = 4
export const NBD_REP_FLAG_ERROR = 2 ** 31
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3
export const NBD_REP_ERR_PLATFORM = NBD_REP_FLAG_ERROR + 4
export const NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR + 5
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7
export const NBD_REP_ERR_BLOCK_SIZE_REQD = NBD_REP_FLAG_ERROR + 8
export const NBD_REP_ERR_TOO_BIG = NBD_REP_FLAG_ERROR + 9

// ---- NBD_REP_INFO information types.
export const NBD_INFO_EXPORT = 0
export const NBD_INFO_NAME = 1
export const NBD_INFO_DESCRIPTION = 2
export const NBD_INFO_BLOCK_SIZE = 3

// ---- Commands and command flags.
export const NBD_CMD_READ = 0
export const NBD_CMD_WRITE = 1
export const NBD_CMD_DISC = 2
export const NBD_CMD_FLUSH = 3
export const NBD_CMD_TRIM = 4
export const NBD_CMD_CACHE = 5
export const NBD_CMD_WRITE_ZEROES = 6
export const NBD_CMD_BLOCK_STATUS = 7

export const NBD_CMD_FLAG_FUA = 1 << 0
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1
export const NBD_CMD_FLAG_DF = 1 << 2
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4

// ---- Structured replies.
export const NBD_REPLY_FLAG_DONE = 1 << 0
export const NBD_REPLY_TYPE_NONE = 0
export const NBD_REPLY_TYPE_OFFSET_DATA = 1
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5
export const NBD_REPLY_TYPE_ERROR = 2 ** 15 + 1
export const NBD_REPLY_TYPE_ERROR_OFFSET = 2 ** 15 + 2

// ---- base:allocation status flags.
export const NBD_STATE_HOLE = 1 << 0
export const NBD_STATE_ZERO = 1 << 1
export const baseAllocationContext = 'base:allocation'

// ---- Error values (the only errno values allowed on the wire).
export const NBD_EPERM = 1
export const NBD_EIO = 5
export const NBD_ENOMEM = 12
export const NBD_EINVAL = 22
export const NBD_ENOSPC = 28
export const NBD_EOVERFLOW = 75
export const NBD_ENOTSUP = 95
export const NBD_ESHUTDOWN = 108

export type NbdErrno =
  | typeof NBD_EPERM | typeof NBD_EIO | typeof NBD_ENOMEM | typeof NBD_EINVAL
  | typeof NBD_ENOSPC | typeof NBD_EOVERFLOW | typeof NBD_ENOTSUP | typeof NBD_ESHUTDOWN

/** Strings on the wire (names, descriptions, messages) MUST be at most this long (spec). */
export const nbdStringMaxBytes = 4096

// ---- Sizes of fixed parts.
export const greetingBytes = 18
export const clientFlagsBytes = 4
export const optionHeaderBytes = 16
export const requestHeaderBytes = 28
export const simpleReplyBytes = 16
export const structuredReplyHeaderBytes = 20
export const exportNameZeroesBytes = 124

const optionNames: Record<number, string> = {
  [NBD_OPT_EXPORT_NAME]: 'NBD_OPT_EXPORT_NAME', [NBD_OPT_ABORT]: 'NBD_OPT_ABORT', [NBD_OPT_LIST]: 'NBD_OPT_LIST',
  [NBD_OPT_PEEK_EXPORT]: 'NBD_OPT_PEEK_EXPORT', [NBD_OPT_STARTTLS]: 'NBD_OPT_STARTTLS', [NBD_OPT_INFO]: 'NBD_OPT_INFO',
  [NBD_OPT_GO]: 'NBD_OPT_GO', [NBD_OPT_STRUCTURED_REPLY]: 'NBD_OPT_STRUCTURED_REPLY',
  [NBD_OPT_LIST_META_CONTEXT]: 'NBD_OPT_LIST_META_CONTEXT', [NBD_OPT_SET_META_CONTEXT]: 'NBD_OPT_SET_META_CONTEXT',
}
const commandNames: Record<number, string> = {
  [NBD_CMD_READ]: 'NBD_CMD_READ', [NBD_CMD_WRITE]: 'NBD_CMD_WRITE', [NBD_CMD_DISC]: 'NBD_CMD_DISC',
  [NBD_CMD_FLUSH]: 'NBD_CMD_FLUSH', [NBD_CMD_TRIM]: 'NBD_CMD_TRIM', [NBD_CMD_CACHE]: 'NBD_CMD_CACHE',
  [NBD_CMD_WRITE_ZEROES]: 'NBD_CMD_WRITE_ZEROES', [NBD_CMD_BLOCK_STATUS]: 'NBD_CMD_BLOCK_STATUS',
}

export function optionName(option: number): string {
  return optionNames[option] ?? `option ${option}`
}

export function commandName(type: number): string {
  return commandNames[type] ?? `command ${type}`
}

/** Client input that breaks the protocol; `message` is safe to send back to the client. */
export interface ProtocolViolation {
  violation: string
}

export function isViolation(value: unknown): value is ProtocolViolation {
  return typeof value === 'object' && value !== null && 'violation' in value
}

// ---- Handshake.

/** S: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
export function encodeGreeting(flags: number): Buffer {
  const out = Buffer.alloc(greetingBytes)
  out.writeBigUInt64BE(NBDMAGIC, 0)
  out.writeBigUInt64BE(IHAVEOPT, 8)
  out.writeUInt16BE(flags, 16)
  return out
}

export interface OptionHeader {
  option: number
  lengthBytes: number
}

/** C: IHAVEOPT, 32-bit option, 32-bit length. */
export function decodeOptionHeader(bytes: Buffer): OptionHeader | ProtocolViolation {
  assert(bytes.length === optionHeaderBytes, 'option header length')
  if (bytes.readBigUInt64BE(0) !== IHAVEOPT) return { violation: 'option without IHAVEOPT magic' }
  return { option: bytes.readUInt32BE(8), lengthBytes: bytes.readUInt32BE(12) }
}

/** S: option reply magic, option, reply type, length, data. */
export function encodeOptionReply(option: number, replyType: number, data: Buffer = emptyBuffer): Buffer {
  const out = Buffer.allocUnsafe(20 + data.length)
  out.writeBigUInt64BE(NBD_REP_MAGIC, 0)
  out.writeUInt32BE(option, 8)
  out.writeUInt32BE(replyType, 12)
  out.writeUInt32BE(data.length, 16)
  data.copy(out, 20)
  return out
}

/** Reply to NBD_OPT_EXPORT_NAME: size, transmission flags, 124 zeroes unless NO_ZEROES. */
export function encodeExportNameReply(sizeBytes: number, flags: number, noZeroes: boolean): Buffer {
  const out = Buffer.alloc(10 + (noZeroes ? 0 : exportNameZeroesBytes))
  out.writeBigUInt64BE(BigInt(sizeBytes), 0)
  out.writeUInt16BE(flags, 8)
  return out
}

export function encodeInfoExport(sizeBytes: number, flags: number): Buffer {
  const out = Buffer.allocUnsafe(12)
  out.writeUInt16BE(NBD_INFO_EXPORT, 0)
  out.writeBigUInt64BE(BigInt(sizeBytes), 2)
  out.writeUInt16BE(flags, 10)
  return out
}

/** NBD_INFO_NAME or NBD_INFO_DESCRIPTION: 16-bit type then the string. */
export function encodeInfoString(infoType: typeof NBD_INFO_NAME | typeof NBD_INFO_DESCRIPTION, text: string): Buffer {
  const body = truncateUtf8(text, nbdStringMaxBytes)
  const out = Buffer.allocUnsafe(2 + body.length)
  out.writeUInt16BE(infoType, 0)
  body.copy(out, 2)
  return out
}

export function encodeInfoBlockSize(minimumBytes: number, preferredBytes: number, maximumBytes: number): Buffer {
  const out = Buffer.allocUnsafe(14)
  out.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0)
  out.writeUInt32BE(minimumBytes, 2)
  out.writeUInt32BE(preferredBytes, 6)
  out.writeUInt32BE(maximumBytes, 10)
  return out
}

/** NBD_REP_SERVER data: 32-bit name length, name, then a human-readable description. */
export function encodeServerReplyData(name: string, description: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8')
  const descriptionBytes = truncateUtf8(description, nbdStringMaxBytes)
  const out = Buffer.allocUnsafe(4 + nameBytes.length + descriptionBytes.length)
  out.writeUInt32BE(nameBytes.length, 0)
  nameBytes.copy(out, 4)
  descriptionBytes.copy(out, 4 + nameBytes.length)
  return out
}

/** NBD_REP_META_CONTEXT data: 32-bit context id, name. */
export function encodeMetaContextReplyData(contextId: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8')
  const out = Buffer.allocUnsafe(4 + nameBytes.length)
  out.writeUInt32BE(contextId, 0)
  nameBytes.copy(out, 4)
  return out
}

export interface InfoRequest {
  exportName: string
  infoTypes: number[]
}

/** NBD_OPT_INFO / NBD_OPT_GO data: 32-bit name length, name, 16-bit count, 16-bit types. */
export function decodeInfoRequest(data: Buffer, stringMaxBytes: number): InfoRequest | ProtocolViolation {
  if (data.length < 6) return { violation: 'INFO/GO data shorter than 6 bytes' }
  const nameBytes = data.readUInt32BE(0)
  if (nameBytes > data.length - 6) return { violation: 'export name longer than the option data' }
  const exportName = decodeString(data.subarray(4, 4 + nameBytes), stringMaxBytes)
  if (isViolation(exportName)) return exportName
  const count = data.readUInt16BE(4 + nameBytes)
  if (data.length !== 6 + nameBytes + 2 * count) return { violation: 'information request count does not match the option length' }
  const infoTypes: number[] = []
  for (let index = 0; index < count; index += 1) infoTypes.push(data.readUInt16BE(6 + nameBytes + 2 * index))
  return { exportName, infoTypes }
}

export interface MetaContextRequest {
  exportName: string
  queries: string[]
}

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data. */
export function decodeMetaContextRequest(data: Buffer, stringMaxBytes: number): MetaContextRequest | ProtocolViolation {
  let at = 0
  const readString = (): string | ProtocolViolation => {
    if (data.length - at < 4) return { violation: 'meta context request truncated' }
    const length = data.readUInt32BE(at)
    at += 4
    if (length > data.length - at) return { violation: 'meta context string longer than the option data' }
    const text = decodeString(data.subarray(at, at + length), stringMaxBytes)
    at += length
    return text
  }
  const exportName = readString()
  if (isViolation(exportName)) return exportName
  if (data.length - at < 4) return { violation: 'meta context request has no query count' }
  const count = data.readUInt32BE(at)
  at += 4
  // Each query takes at least its 4-byte length: a count that cannot fit is invalid, not a loop.
  if (count > (data.length - at) / 4) return { violation: 'meta context query count larger than the option data' }
  const queries: string[] = []
  for (let index = 0; index < count; index += 1) {
    const query = readString()
    if (isViolation(query)) return query
    queries.push(query)
  }
  if (at !== data.length) return { violation: 'trailing bytes after meta context queries' }
  return { exportName, queries }
}

/** An NBD string: valid UTF-8, no NUL, at most stringMaxBytes. */
export function decodeString(bytes: Buffer, stringMaxBytes: number): string | ProtocolViolation {
  if (bytes.length > stringMaxBytes) return { violation: `string longer than ${stringMaxBytes} bytes` }
  if (bytes.includes(0)) return { violation: 'string contains NUL' }
  if (!isUtf8(bytes)) return { violation: 'string is not valid UTF-8' }
  return bytes.toString('utf8')
}

// ---- Transmission.

export interface RequestHeader {
  flags: number
  type: number
  /** Opaque 8 bytes echoed in every reply (a copy, safe to keep). */
  handle: Buffer
  /** Exact below 2^53; any larger offset is larger than every export, which is all that matters. */
  offsetBytes: number
  lengthBytes: number
}

/** C: magic, 16-bit flags, 16-bit type, 64-bit handle, 64-bit offset, 32-bit length. */
export function decodeRequestHeader(bytes: Buffer): RequestHeader | ProtocolViolation {
  assert(bytes.length === requestHeaderBytes, 'request header length')
  if (bytes.readUInt32BE(0) !== NBD_REQUEST_MAGIC) return { violation: 'request without NBD_REQUEST_MAGIC' }
  return {
    flags: bytes.readUInt16BE(4),
    type: bytes.readUInt16BE(6),
    handle: Buffer.from(bytes.subarray(8, 16)),
    offsetBytes: Number(bytes.readBigUInt64BE(16)),
    lengthBytes: bytes.readUInt32BE(24),
  }
}

/** S: simple reply header (a successful simple READ reply is followed by the data). */
export function encodeSimpleReply(handle: Buffer, errno: number): Buffer {
  const out = Buffer.allocUnsafe(simpleReplyBytes)
  out.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0)
  out.writeUInt32BE(errno, 4)
  handle.copy(out, 8)
  return out
}

function structuredHeader(out: Buffer, handle: Buffer, flags: number, type: number, payloadBytes: number): void {
  assert(handle.length === 8, 'handle is 8 bytes')
  out.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0)
  out.writeUInt16BE(flags, 4)
  out.writeUInt16BE(type, 6)
  handle.copy(out, 8)
  out.writeUInt32BE(payloadBytes, 16)
}

/** NBD_REPLY_TYPE_NONE with NBD_REPLY_FLAG_DONE: the request succeeded. */
export function encodeStructuredDone(handle: Buffer): Buffer {
  const out = Buffer.allocUnsafe(structuredReplyHeaderBytes)
  structuredHeader(out, handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0)
  return out
}

/** Header + offset of an NBD_REPLY_TYPE_OFFSET_DATA chunk; the caller sends the data after it. */
export function encodeOffsetDataHeader(handle: Buffer, flags: number, offsetBytes: number, dataBytes: number): Buffer {
  assert(dataBytes >= 1 && dataBytes <= 2 ** 32 - 1 - 8, 'OFFSET_DATA carries 1..2^32-9 bytes')
  const out = Buffer.allocUnsafe(structuredReplyHeaderBytes + 8)
  structuredHeader(out, handle, flags, NBD_REPLY_TYPE_OFFSET_DATA, 8 + dataBytes)
  out.writeBigUInt64BE(BigInt(offsetBytes), 20)
  return out
}

export function encodeOffsetHole(handle: Buffer, flags: number, offsetBytes: number, holeBytes: number): Buffer {
  assert(holeBytes >= 1 && holeBytes <= 0xffffffff, 'hole size is a nonzero 32-bit value')
  const out = Buffer.allocUnsafe(structuredReplyHeaderBytes + 12)
  structuredHeader(out, handle, flags, NBD_REPLY_TYPE_OFFSET_HOLE, 12)
  out.writeBigUInt64BE(BigInt(offsetBytes), 20)
  out.writeUInt32BE(holeBytes, 28)
  return out
}

export interface BlockStatusDescriptor {
  lengthBytes: number
  status: number
}

export function encodeBlockStatus(handle: Buffer, flags: number, contextId: number, descriptors: readonly BlockStatusDescriptor[]): Buffer {
  assert(descriptors.length >= 1, 'block status carries at least one descriptor')
  const payloadBytes = 4 + 8 * descriptors.length
  const out = Buffer.allocUnsafe(structuredReplyHeaderBytes + payloadBytes)
  structuredHeader(out, handle, flags, NBD_REPLY_TYPE_BLOCK_STATUS, payloadBytes)
  out.writeUInt32BE(contextId, 20)
  let at = 24
  for (const descriptor of descriptors) {
    assert(descriptor.lengthBytes >= 1 && descriptor.lengthBytes <= 0xffffffff, 'descriptor length is a nonzero 32-bit value')
    out.writeUInt32BE(descriptor.lengthBytes, at)
    out.writeUInt32BE(descriptor.status, at + 4)
    at += 8
  }
  return out
}

/** NBD_REPLY_TYPE_ERROR, final chunk: errno, 16-bit message length, message. */
export function encodeStructuredError(handle: Buffer, errno: number, message: string): Buffer {
  assert(errno !== 0, 'error chunks carry a nonzero errno')
  const text = truncateUtf8(message, nbdStringMaxBytes)
  const out = Buffer.allocUnsafe(structuredReplyHeaderBytes + 6 + text.length)
  structuredHeader(out, handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 6 + text.length)
  out.writeUInt32BE(errno, 20)
  out.writeUInt16BE(text.length, 24)
  text.copy(out, 26)
  return out
}

/** UTF-8 bytes of text, cut at a character boundary to at most maxBytes. */
export function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= maxBytes) return bytes
  let end = maxBytes
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1
  return bytes.subarray(0, end)
}

const emptyBuffer = Buffer.alloc(0)

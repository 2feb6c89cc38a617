// Validation of one transmission request at the protocol edge, before anything reaches the
// export: command known and advertised, flags allowed for the command, read-only, range,
// alignment and size limits. Returns the NBD errno the spec asks for, or undefined when the
// request may go to the export (which then asserts rather than re-validates).
//
// The spec's choices: unknown command or flag -> EINVAL; write/trim/zeroes on a read-only
// export -> EPERM; WRITE / WRITE_ZEROES past the end -> ENOSPC, other commands past the end ->
// EINVAL; misaligned to the minimum block size or longer than the maximum -> EINVAL (READ,
// WRITE, CACHE, and WRITE_ZEROES without FAST_ZERO; TRIM and BLOCK_STATUS may be longer).
// FUA is accepted on every command (the spec says existing clients set it everywhere).
import {
  NBD_CMD_BLOCK_STATUS, NBD_CMD_CACHE, NBD_CMD_DISC, NBD_CMD_FLAG_DF, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM, NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES, NBD_EINVAL, NBD_ENOSPC, NBD_EPERM, NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FAST_ZERO, NBD_FLAG_SEND_FUA, NBD_FLAG_SEND_TRIM, NBD_FLAG_SEND_WRITE_ZEROES, commandName,
  type NbdErrno, type RequestHeader,
} from './protocol.ts'
import type { Session } from './session.ts'

export interface Rejection {
  errno: NbdErrno
  message: string
}

const knownCommands = new Set([NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_DISC, NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_CACHE, NBD_CMD_WRITE_ZEROES, NBD_CMD_BLOCK_STATUS])
const writingCommands = new Set([NBD_CMD_WRITE, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES])

export function isKnownCommand(type: number): boolean {
  return knownCommands.has(type)
}

/** Flags the client may set on `type`, given what was advertised. */
export function allowedFlags(type: number, transmissionFlags: number): number {
  let allowed = (transmissionFlags & NBD_FLAG_SEND_FUA) !== 0 ? NBD_CMD_FLAG_FUA : 0
  if (type === NBD_CMD_READ && (transmissionFlags & NBD_FLAG_SEND_DF) !== 0) allowed |= NBD_CMD_FLAG_DF
  if (type === NBD_CMD_WRITE_ZEROES) {
    allowed |= NBD_CMD_FLAG_NO_HOLE
    if ((transmissionFlags & NBD_FLAG_SEND_FAST_ZERO) !== 0) allowed |= NBD_CMD_FLAG_FAST_ZERO
  }
  if (type === NBD_CMD_BLOCK_STATUS) allowed |= NBD_CMD_FLAG_REQ_ONE
  return allowed
}

export function checkRequest(request: RequestHeader, session: Session): Rejection | undefined {
  const { type, flags, offsetBytes, lengthBytes } = request
  const name = commandName(type)
  const reject = (errno: NbdErrno, why: string): Rejection => ({ errno, message: `${name}: ${why}` })
  if (!knownCommands.has(type)) return reject(NBD_EINVAL, 'unknown command')
  const extraFlags = flags & ~allowedFlags(type, session.transmissionFlags)
  if (extraFlags !== 0) return reject(NBD_EINVAL, `flags 0x${extraFlags.toString(16)} are not valid for this command`)

  const advertised = session.transmissionFlags
  if (writingCommands.has(type) && (advertised & NBD_FLAG_READ_ONLY) !== 0) return reject(NBD_EPERM, 'the export is read-only')
  if (type === NBD_CMD_TRIM && (advertised & NBD_FLAG_SEND_TRIM) === 0) return reject(NBD_EINVAL, 'trim was not advertised')
  if (type === NBD_CMD_WRITE_ZEROES && (advertised & NBD_FLAG_SEND_WRITE_ZEROES) === 0) return reject(NBD_EINVAL, 'write zeroes was not advertised')
  if (type === NBD_CMD_BLOCK_STATUS && session.allocationContextId === undefined) return reject(NBD_EINVAL, 'no metadata context was negotiated for this export')
  if (type === NBD_CMD_FLUSH || type === NBD_CMD_DISC) {
    return offsetBytes === 0 && lengthBytes === 0 ? undefined : reject(NBD_EINVAL, 'offset and length must be zero')
  }

  const sizeBytes = session.blockExport.sizeBytes
  if (offsetBytes > sizeBytes || lengthBytes > sizeBytes - offsetBytes) {
    const errno = type === NBD_CMD_WRITE || type === NBD_CMD_WRITE_ZEROES ? NBD_ENOSPC : NBD_EINVAL
    return reject(errno, `offset ${offsetBytes} + length ${lengthBytes} is past the end of the export (${sizeBytes} bytes)`)
  }
  const { minimumBytes, maximumBytes } = session.blockSizes
  if (offsetBytes % minimumBytes !== 0 || lengthBytes % minimumBytes !== 0) {
    return reject(NBD_EINVAL, `offset ${offsetBytes} and length ${lengthBytes} must be multiples of the minimum block size ${minimumBytes}`)
  }
  const sizeLimited = type === NBD_CMD_READ || type === NBD_CMD_WRITE || type === NBD_CMD_CACHE || (type === NBD_CMD_WRITE_ZEROES && (flags & NBD_CMD_FLAG_FAST_ZERO) === 0)
  if (sizeLimited && lengthBytes > maximumBytes) return reject(NBD_EINVAL, `length ${lengthBytes} is larger than the maximum block size ${maximumBytes}`)
  if (type === NBD_CMD_BLOCK_STATUS && lengthBytes === 0) return reject(NBD_EINVAL, 'length must not be zero')
  return undefined
}

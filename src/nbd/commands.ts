// Serving one validated transmission request against the export, and the replies: simple
// replies, or structured ones when negotiated (READ as OFFSET_DATA / OFFSET_HOLE chunks,
// BLOCK_STATUS descriptors, errors as NBD_REPLY_TYPE_ERROR with a message).
//
// READ data is read into pooled buffers (buffer-pool.ts), released once the socket took them.
//
// Contract: serveRequest resolves after its reply was handed to the connection; a StoreError
// from the export becomes an errno reply (errors.ts); anything else rejects (a bug, the caller
// ends the connection). onReplyFlushed runs exactly once for every READ reply (data or error),
// when the socket took it, so the in-flight byte budget covers read data until it is sent.
// Zero-length requests are answered without calling the export (the spec leaves them
// unspecified but asks servers not to disconnect; the export asserts positive lengths), and no
// export call is longer than the advertised maximum block size (TRIM and WRITE_ZEROES are
// split, BLOCK_STATUS answers a prefix).
import { assert, isStoreError, must } from '../lib/index.ts'
import type { AllocationExtent } from '../volumes/api.ts'
import type { PooledBuffer } from './buffer-pool.ts'
import type { Connection } from './connection.ts'
import { nbdErrnoFor } from './errors.ts'
import {
  encodeBlockStatus, encodeOffsetDataHeader, encodeOffsetHole, encodeSimpleReply, encodeStructuredDone, encodeStructuredError,
  NBD_CMD_BLOCK_STATUS, NBD_CMD_CACHE, NBD_CMD_FLAG_DF, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_FLAG_FUA, NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLAG_REQ_ONE, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM, NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_EIO,
  NBD_REPLY_FLAG_DONE, NBD_STATE_HOLE, NBD_STATE_ZERO, commandName,
  type BlockStatusDescriptor, type RequestHeader,
} from './protocol.ts'
import type { Rejection } from './request-rules.ts'
import type { Session } from './session.ts'

export async function serveRequest(connection: Connection, session: Session, request: RequestHeader, payload: Buffer | undefined, onReplyFlushed: () => void): Promise<void> {
  const { blockExport } = session
  const { offsetBytes, lengthBytes, flags } = request
  const signal = connection.signal
  const fua = (flags & NBD_CMD_FLAG_FUA) !== 0
  try {
    switch (request.type) {
      case NBD_CMD_READ:
        await serveRead(connection, session, request, onReplyFlushed)
        return
      case NBD_CMD_BLOCK_STATUS:
        await serveBlockStatus(connection, session, request)
        return
      case NBD_CMD_WRITE:
        if (lengthBytes > 0) await blockExport.write(offsetBytes, must(payload, 'WRITE has a payload'), { fua, signal })
        break
      case NBD_CMD_FLUSH:
        await blockExport.flush(signal)
        break
      case NBD_CMD_TRIM:
        await inPieces(offsetBytes, lengthBytes, session.blockSizes.maximumBytes, (offset, length) => blockExport.trim(offset, length, { fua, signal }))
        break
      case NBD_CMD_WRITE_ZEROES: {
        const noHole = (flags & NBD_CMD_FLAG_NO_HOLE) !== 0
        const fastZero = (flags & NBD_CMD_FLAG_FAST_ZERO) !== 0
        await inPieces(offsetBytes, lengthBytes, session.blockSizes.maximumBytes, (offset, length) => blockExport.writeZeroes(offset, length, { fua, noHole, fastZero, signal }))
        break
      }
      case NBD_CMD_CACHE:
        if (lengthBytes > 0) await blockExport.cache(offsetBytes, lengthBytes, signal)
        break
      default:
        assert(false, `validated request has a served type (${request.type})`)
    }
    connection.send([encodeSimpleReply(request.handle, 0)])
  } catch (error) {
    if (!isStoreError(error)) throw error
    const errno = nbdErrnoFor(error.code)
    const fields = { client: connection.options.clientKey, export: session.exportName, command: commandName(request.type), offsetBytes, lengthBytes, err: error }
    if (errno === NBD_EIO) connection.logger.warn(fields, 'NBD request failed')
    else connection.logger.debug(fields, 'NBD request refused')
    replyError(connection, session, request, { errno, message: error.message }, request.type === NBD_CMD_READ ? onReplyFlushed : undefined)
  }
}

/** An error reply: structured with a message when negotiated, simple otherwise (no payload). */
export function replyError(connection: Connection, session: Session, request: RequestHeader, rejection: Rejection, onFlushed?: () => void): void {
  const reply = session.structuredReplies
    ? encodeStructuredError(request.handle, rejection.errno, rejection.message)
    : encodeSimpleReply(request.handle, rejection.errno)
  connection.send([reply], onFlushed)
}

async function serveRead(connection: Connection, session: Session, request: RequestHeader, onFlushed: () => void): Promise<void> {
  const { handle, offsetBytes, lengthBytes } = request
  const signal = connection.signal
  if (lengthBytes === 0) {
    connection.send([session.structuredReplies ? encodeStructuredDone(handle) : encodeSimpleReply(handle, 0)], onFlushed)
    return
  }
  // Read data goes into pooled buffers, returned once the socket took them (buffer-pool.ts).
  const leases: PooledBuffer[] = []
  const releaseAll = (): void => {
    for (const lease of leases.splice(0)) connection.options.bufferPool.release(lease)
  }
  try {
    const buffers = session.structuredReplies ? await structuredRead(connection, session, request, leases) : await simpleRead(connection, session, request, leases)
    connection.send(buffers, () => {
      releaseAll()
      onFlushed()
    })
  } catch (error) {
    releaseAll()
    throw error
  }
}

/** export.read into a pooled buffer, held in `leases` until the reply is sent. */
async function readPooled(connection: Connection, session: Session, offsetBytes: number, lengthBytes: number, leases: PooledBuffer[]): Promise<Buffer> {
  const pool = connection.options.bufferPool
  const lease = pool.acquire(lengthBytes)
  leases.push(lease)
  const data = await session.blockExport.read(offsetBytes, lengthBytes, connection.signal, lease.bytes)
  assert(data.length === lengthBytes, 'export read returns the length asked')
  if (data !== lease.bytes) {
    // The export answered with its own buffer (it may ignore `into`): ours is free at once.
    leases.splice(leases.indexOf(lease), 1)
    pool.release(lease)
  }
  return data
}

async function simpleRead(connection: Connection, session: Session, request: RequestHeader, leases: PooledBuffer[]): Promise<Buffer[]> {
  const data = await readPooled(connection, session, request.offsetBytes, request.lengthBytes, leases)
  return [encodeSimpleReply(request.handle, 0), data]
}

async function structuredRead(connection: Connection, session: Session, request: RequestHeader, leases: PooledBuffer[]): Promise<Buffer[]> {
  const { handle, offsetBytes, lengthBytes } = request
  const unfragmented = (request.flags & NBD_CMD_FLAG_DF) !== 0 || lengthBytes < connection.options.limits.readHoleProbeMinBytes
  const runs = unfragmented ? [{ offsetBytes, lengthBytes, zero: false }] : await readRuns(session, offsetBytes, lengthBytes, connection.signal)
  const buffers: Buffer[] = []
  for (const [index, run] of runs.entries()) {
    const flags = index === runs.length - 1 ? NBD_REPLY_FLAG_DONE : 0
    if (run.zero) {
      buffers.push(encodeOffsetHole(handle, flags, run.offsetBytes, run.lengthBytes))
      continue
    }
    const data = await readPooled(connection, session, run.offsetBytes, run.lengthBytes, leases)
    buffers.push(encodeOffsetDataHeader(handle, flags, run.offsetBytes, data.length), data)
  }
  // Every chunk is in memory before the first is sent, so the last one may carry DONE (spec).
  return buffers
}

interface ReadRun {
  offsetBytes: number
  lengthBytes: number
  /** Reads as zeroes: sent as an OFFSET_HOLE chunk instead of data. */
  zero: boolean
}

/** Split a read into data and zero runs from the export's allocation map. */
async function readRuns(session: Session, offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<ReadRun[]> {
  const extents = await session.blockExport.blockStatus(offsetBytes, lengthBytes, signal)
  const runs: ReadRun[] = []
  let covered = 0
  const add = (lengthOfRun: number, zero: boolean): void => {
    const last = runs.at(-1)
    if (last !== undefined && last.zero === zero) last.lengthBytes += lengthOfRun
    else runs.push({ offsetBytes: offsetBytes + covered, lengthBytes: lengthOfRun, zero })
    covered += lengthOfRun
  }
  for (const extent of extents) {
    if (covered >= lengthBytes) break
    assert(extent.lengthBytes > 0, 'allocation extents are not empty')
    add(Math.min(extent.lengthBytes, lengthBytes - covered), extent.zero)
  }
  // Whatever the map did not cover is read as data.
  if (covered < lengthBytes) add(lengthBytes - covered, false)
  return runs
}

/**
 * TRIM and WRITE_ZEROES may be longer than the maximum block size (they carry no payload), but
 * no export call is: split them, in order (FUA on every piece keeps "durable before the reply").
 */
async function inPieces(offsetBytes: number, lengthBytes: number, pieceMaxBytes: number, run: (offset: number, length: number) => Promise<void>): Promise<void> {
  for (let done = 0; done < lengthBytes; done += pieceMaxBytes) await run(offsetBytes + done, Math.min(pieceMaxBytes, lengthBytes - done))
}

async function serveBlockStatus(connection: Connection, session: Session, request: RequestHeader): Promise<void> {
  const contextId = must(session.allocationContextId, 'BLOCK_STATUS was validated against a negotiated context')
  // The reply may cover less than asked (spec); the client asks again from where it stopped.
  const lengthBytes = Math.min(request.lengthBytes, session.blockSizes.maximumBytes)
  const extents = await session.blockExport.blockStatus(request.offsetBytes, lengthBytes, connection.signal)
  const maximum = (request.flags & NBD_CMD_FLAG_REQ_ONE) !== 0 ? 1 : connection.options.limits.blockStatusExtentsMax
  const descriptors = blockStatusDescriptors(extents, lengthBytes, maximum)
  connection.send([encodeBlockStatus(request.handle, NBD_REPLY_FLAG_DONE, contextId, descriptors)])
}

/**
 * base:allocation descriptors for a request: consecutive extents with the same status merged,
 * clipped to the request length, at most `maximum` of them (the spec allows fewer than the
 * whole range; the client asks again from where the reply stopped). Never empty.
 */
export function blockStatusDescriptors(extents: readonly AllocationExtent[], requestBytes: number, maximum: number): BlockStatusDescriptor[] {
  assert(requestBytes > 0 && maximum >= 1, 'block status of a non-empty range')
  const descriptors: BlockStatusDescriptor[] = []
  let covered = 0
  for (const extent of extents) {
    if (covered >= requestBytes) break
    assert(extent.lengthBytes > 0, 'allocation extents are not empty')
    const lengthBytes = Math.min(extent.lengthBytes, requestBytes - covered)
    const status = (extent.hole ? NBD_STATE_HOLE : 0) | (extent.zero ? NBD_STATE_ZERO : 0)
    const last = descriptors.at(-1)
    if (last !== undefined && last.status === status) {
      last.lengthBytes += lengthBytes
    } else {
      if (descriptors.length === maximum) break
      descriptors.push({ lengthBytes, status })
    }
    covered += lengthBytes
  }
  // Status 0 ("allocated, contents unknown") is always a truthful answer (spec).
  if (descriptors.length === 0) descriptors.push({ lengthBytes: requestBytes, status: 0 })
  return descriptors
}

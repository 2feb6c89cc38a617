// The transmission phase of one connection: read requests, validate each at the edge
// (request-rules.ts), run valid ones against the export concurrently, and send replies as they
// complete (replies may go out of order; the client matches them by handle).
//
// Ordering (NBD protocol, "Ordering of messages and writes"): the server may run and answer
// requests in any order; the only rules are that FLUSH covers every write already answered
// (export.flush covers every write completed before it was called, on any connection) and
// that FUA writes are durable before their reply (passed through as `fua`). Overlapping
// writes in flight together have no defined order, as with a disk.
//
// Bounds: at most inFlightRequestsMax requests and inFlightBytesMax payload bytes (write
// payloads being served, read data not yet handed to the socket) per connection; when full,
// the loop stops reading the socket, so TCP slows the client. A WRITE longer than the
// maximum block size but within requestMaxBytes is read, dropped and answered EINVAL; a
// longer one is a hard disconnect (the spec lets a server treat it as denial of service).
import { assert, isStoreError, StoreError } from '../lib/index.ts'
import type { PooledBuffer } from './buffer-pool.ts'
import { ProtocolError, type Connection } from './connection.ts'
import { serveRequest, replyError } from './commands.ts'
import { decodeRequestHeader, isViolation, NBD_CMD_DISC, NBD_CMD_READ, NBD_CMD_WRITE, NBD_EINVAL, NBD_ESHUTDOWN, requestHeaderBytes, type RequestHeader } from './protocol.ts'
import { checkRequest, isKnownCommand, type Rejection } from './request-rules.ts'
import type { Session } from './session.ts'

const shuttingDown: Rejection = { errno: NBD_ESHUTDOWN, message: 'the server is shutting down' }

/** Serve until DISC (resolves true once in-flight requests finished) or until the connection fails. */
export async function serveTransmission(connection: Connection, session: Session): Promise<boolean> {
  const budget = new InFlightBudget(connection.options.limits.inFlightRequestsMax, connection.options.limits.inFlightBytesMax)
  try {
    for (;;) {
      await untilClosed(budget.room(), connection.signal)
      const header = decodeRequestHeader(await connection.reader.readExactly(requestHeaderBytes))
      if (isViolation(header)) throw new ProtocolError(header.violation)
      if (header.type === NBD_CMD_DISC) {
        connection.logger.debug({ client: connection.options.clientKey, export: session.exportName }, 'NBD client disconnected (NBD_CMD_DISC)')
        return true
      }
      const payload = header.type === NBD_CMD_WRITE ? await readPayload(connection, session, header, budget) : undefined
      if (payload === 'dropped') continue
      dispatch(connection, session, header, payload, budget)
    }
  } catch (error) {
    // Reader closed or protocol broken: stop in-flight work, then wait for it (release follows).
    if (!isStoreError(error, 'CLOSED') && !(error instanceof ProtocolError)) throw error
    // After end() (server closing, session idle) the queued replies must still go out.
    if (error instanceof ProtocolError || !connection.ending) connection.destroy(error.message)
    throw error
  } finally {
    await budget.idle()
  }
}

interface Payload {
  bytes: Buffer
  /** The pooled buffer holding bytes when they spanned received chunks; released when served. */
  lease: PooledBuffer | undefined
}

async function readPayload(connection: Connection, session: Session, header: RequestHeader, budget: InFlightBudget): Promise<Payload | 'dropped'> {
  const { lengthBytes } = header
  if (lengthBytes > connection.options.limits.requestMaxBytes) throw new ProtocolError(`NBD_CMD_WRITE payload of ${lengthBytes} bytes is too large`)
  const rejection = checkRequest(header, session)
  if (rejection !== undefined || connection.closing) {
    // Keep the stream in step: the payload follows the header whatever we answer.
    await connection.reader.discard(lengthBytes)
    replyError(connection, session, header, rejection ?? shuttingDown)
    return 'dropped'
  }
  await untilClosed(budget.reserveBytes(lengthBytes), connection.signal)
  const pool = connection.options.bufferPool
  let lease: PooledBuffer | undefined
  try {
    const bytes = await connection.reader.readExactly(lengthBytes, (length) => (lease = pool.acquire(length)).bytes)
    return { bytes, lease }
  } catch (error) {
    if (lease !== undefined) pool.release(lease)
    budget.releaseBytes(lengthBytes)
    throw error
  }
}

/**
 * Wait for room, but not past the connection's end: if replies can no longer be flushed, the
 * bytes they hold might never be released, and the loop must still see the close and unwind.
 */
function untilClosed(waiting: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new StoreError('CLOSED', 'connection closed'))
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new StoreError('CLOSED', 'connection closed'))
    signal.addEventListener('abort', onAbort, { once: true })
    waiting.then(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, reject)
  })
}

function dispatch(connection: Connection, session: Session, header: RequestHeader, payload: Payload | undefined, budget: InFlightBudget): void {
  // A WRITE reached here validated, with its bytes reserved; everything else is checked now.
  if (payload === undefined) {
    const rejection = connection.closing ? shuttingDown : checkRequest(header, session)
    if (rejection !== undefined) {
      if (!isKnownCommand(header.type)) assert(rejection.errno === NBD_EINVAL, 'unknown commands are EINVAL')
      replyError(connection, session, header, rejection)
      return
    }
  }
  const heldBytes = header.type === NBD_CMD_WRITE ? header.lengthBytes : 0
  // Read data is held until the socket took it; reserve it now so the budget bounds replies too.
  const readBytes = header.type === NBD_CMD_READ ? header.lengthBytes : 0
  budget.start(heldBytes, readBytes)
  connection.requestStarted()
  let readHeldBytes = readBytes
  const releaseRead = (): void => {
    budget.releaseBytes(readHeldBytes)
    readHeldBytes = 0
  }
  const done = serveRequest(connection, session, header, payload?.bytes, releaseRead)
  // The export is done with a write payload once the request settled: its buffer can be reused.
  const releasePayload = (): void => {
    if (payload?.lease !== undefined) connection.options.bufferPool.release(payload.lease)
  }
  done.then(
    () => {
      releasePayload()
      budget.finish(heldBytes)
      connection.requestFinished()
    },
    (error: unknown) => {
      releasePayload()
      releaseRead()
      budget.finish(heldBytes)
      connection.requestFinished()
      connection.destroy('internal error')
      connection.options.onBug(error instanceof Error ? error : new Error(String(error)))
    },
  )
}

/**
 * Requests and bytes in flight on one connection. Only the request loop waits for room, so
 * there is at most one waiter. A single request larger than the byte budget is let through
 * when nothing else is in flight (cannot happen with the asserted limits, but never deadlock).
 */
export class InFlightBudget {
  readonly #requestsMax: number
  readonly #bytesMax: number
  #requests = 0
  #bytes = 0
  #waiter: (() => void) | undefined
  #idleWaiters: Array<() => void> = []

  constructor(requestsMax: number, bytesMax: number) {
    this.#requestsMax = requestsMax
    this.#bytesMax = bytesMax
  }

  get requests(): number {
    return this.#requests
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Resolves when another request may be read. */
  room(): Promise<void> {
    return this.#wait(() => this.#requests < this.#requestsMax && this.#bytes < this.#bytesMax)
  }

  async reserveBytes(lengthBytes: number): Promise<void> {
    await this.#wait(() => this.#bytes === 0 || this.#bytes + lengthBytes <= this.#bytesMax)
    this.#bytes += lengthBytes
  }

  /** A request starts: count it, and reserve bytes its reply will hold (READ data). */
  start(reservedBytes: number, replyBytes: number): void {
    assert(reservedBytes === 0 || this.#bytes >= reservedBytes, 'write payload bytes were reserved')
    this.#requests += 1
    this.#bytes += replyBytes
  }

  finish(reservedBytes: number): void {
    assert(this.#requests > 0, 'a request was in flight')
    this.#requests -= 1
    this.releaseBytes(reservedBytes)
    this.#wake()
    if (this.#requests === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve()
  }

  releaseBytes(lengthBytes: number): void {
    if (lengthBytes === 0) return
    this.#bytes -= lengthBytes
    assert(this.#bytes >= 0, 'in-flight bytes stay non-negative')
    this.#wake()
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#requests === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #condition: (() => boolean) | undefined

  #wait(condition: () => boolean): Promise<void> {
    assert(this.#waiter === undefined, 'one waiter at a time')
    if (condition()) return Promise.resolve()
    return new Promise((resolve) => {
      this.#condition = condition
      this.#waiter = resolve
    })
  }

  #wake(): void {
    const waiter = this.#waiter
    if (waiter !== undefined && this.#condition?.() === true) {
      this.#waiter = undefined
      this.#condition = undefined
      waiter()
    }
  }
}

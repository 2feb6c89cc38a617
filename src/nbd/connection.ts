// One client connection: greeting, option haggling (handshake.ts), transmission
// (transmission.ts), and the socket underneath (plain, or TLS after NBD_OPT_STARTTLS).
//
// Contract: run() never rejects. It resolves once the connection is closed AND, if an export
// was opened, every in-flight operation has settled and release() was called exactly once.
// Client misbehaviour (bad magic, garbage, timeouts, vanishing) ends in a disconnect and a log
// line; a non-StoreError thrown below the edge is a bug and goes to onBug.
// The connection's AbortSignal fires when the socket closes or the server gives up waiting,
// so operations of a vanished client stop early.
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket, type SecureContext } from 'node:tls'
import { assert, isStoreError, StoreError } from '../lib/index.ts'
import type { ExportProvider } from '../volumes/api.ts'
import type { BufferPool } from './buffer-pool.ts'
import { negotiate } from './handshake.ts'
import { encodeGreeting, NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES } from './protocol.ts'
import type { NbdLimits, NbdLogger, Session } from './session.ts'
import { adoptSocket, SocketReader } from './socket-reader.ts'
import { serveTransmission } from './transmission.ts'

/** How long a soft-closed socket waits for the peer to close its side before it is cut. */
const lingerMs = 2_000

export interface TlsSettings {
  context: SecureContext
  /** FORCEDTLS: every option but STARTTLS/ABORT gets NBD_REP_ERR_TLS_REQD until TLS is up. */
  required: boolean
}

export interface ConnectionOptions {
  /** From a server created with pauseOnConnect when `adopt` is set (see adoptSocket). */
  socket: Socket
  /** Read into one reused receive buffer (socket-reader.ts adoptSocket) instead of 'data' events. */
  adopt?: boolean
  /** Identifies the client for attachment (several connections of one client share one). */
  clientKey: string
  provider: ExportProvider
  limits: NbdLimits
  logger: NbdLogger
  tls: TlsSettings | undefined
  /** Payload buffers shared by the server's connections. */
  bufferPool: BufferPool
  onBug: (error: Error) => void
}

/** A client broke the protocol in a way that ends the session (hard disconnect). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolError'
  }
}

export class Connection {
  readonly options: ConnectionOptions
  readonly raw: Socket
  readonly reader: SocketReader
  readonly #controller = new AbortController()
  #stream: Duplex
  #tlsActive = false
  #phase: 'handshake' | 'transmission' | 'closed' = 'handshake'
  #closing = false
  #requestsInFlight = 0
  #lingerTimer: NodeJS.Timeout | undefined
  readonly #socketClosed: Promise<void>
  #closeReason: string | undefined

  constructor(options: ConnectionOptions) {
    this.options = options
    const ahead = options.limits.receiveAheadBytes
    const { socket, reader } = options.adopt === true
      ? adoptSocket(options.socket, ahead)
      : { socket: options.socket, reader: undefined }
    this.raw = socket
    this.#stream = socket
    this.raw.setNoDelay(true)
    // Detects a peer that vanished without a FIN (the kernel then fails the socket).
    this.raw.setKeepAlive(true, 30_000)
    this.raw.on('error', this.#onStreamError)
    this.raw.on('close', this.#onClose)
    this.#socketClosed = new Promise((resolve) => this.raw.once('close', () => resolve()))
    this.reader = reader ?? new SocketReader(this.raw, ahead)
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get phase(): 'handshake' | 'transmission' | 'closed' {
    return this.#phase
  }

  get tlsActive(): boolean {
    return this.#tlsActive
  }

  /** The server is shutting down: new options and requests are refused with SHUTDOWN errors. */
  get closing(): boolean {
    return this.#closing
  }

  get logger(): NbdLogger {
    return this.options.logger
  }

  async run(): Promise<void> {
    const deadline = setTimeout(() => this.destroy('handshake timed out'), this.options.limits.handshakeTimeoutMs)
    let session: Session | undefined
    try {
      this.send([encodeGreeting(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES)])
      session = await negotiate(this)
      clearTimeout(deadline)
      if (session === undefined) {
        this.end()
        return
      }
      this.#phase = 'transmission'
      const graceful = await serveTransmission(this, session)
      if (graceful) this.end()
      else this.destroy('transmission ended')
    } catch (error) {
      this.#handleFailure(error)
    } finally {
      clearTimeout(deadline)
      this.#controller.abort(new StoreError('CLOSED', this.#closeReason ?? 'connection closed'))
      if (session !== undefined) await this.#release(session)
      // Resolve only once the socket is gone (end() bounds the wait), so a closed server holds nothing.
      if (!this.raw.destroyed && this.#lingerTimer === undefined) this.destroy('connection finished')
      await this.#socketClosed
      clearTimeout(this.#lingerTimer)
      this.#phase = 'closed'
    }
  }

  /** Write buffers back to back; onFlushed runs once they left the process (or failed to). */
  send(buffers: readonly Buffer[], onFlushed?: () => void): void {
    const stream = this.#stream
    if (stream.destroyed || !stream.writable) {
      onFlushed?.()
      return
    }
    const last = buffers.length - 1
    if (last > 0) stream.cork()
    buffers.forEach((buffer, index) => {
      stream.write(buffer, index === last && onFlushed !== undefined ? () => onFlushed() : undefined)
    })
    if (last > 0) stream.uncork()
    if (last < 0) onFlushed?.()
  }

  /** STARTTLS after the ACK was sent: the same socket continues as TLS. */
  async upgradeToTls(): Promise<void> {
    const tls = this.options.tls
    assert(tls !== undefined && !this.#tlsActive, 'TLS upgrade only once, when configured')
    // The client must wait for our ACK before starting TLS; plaintext already here is a violation.
    if (this.reader.bufferedBytes > 0 || this.raw.readableLength > 0) throw new ProtocolError('client sent data before the STARTTLS reply')
    this.reader.detach()
    const secure = new TLSSocket(this.raw, { isServer: true, secureContext: tls.context, requestCert: false, rejectUnauthorized: false })
    secure.on('error', this.#onStreamError)
    this.#stream = secure
    await new Promise<void>((resolve, reject) => {
      const fail = (): void => reject(new StoreError('CLOSED', 'TLS handshake failed'))
      secure.once('secure', () => {
        secure.off('close', fail)
        resolve()
      })
      secure.once('close', fail)
    })
    this.#tlsActive = true
    this.reader.attach(secure)
  }

  /** Transmission bookkeeping, so a closing server can end the session once it is idle. */
  requestStarted(): void {
    this.#requestsInFlight += 1
  }

  requestFinished(): void {
    this.#requestsInFlight -= 1
    assert(this.#requestsInFlight >= 0, 'requests in flight stay non-negative')
    if (this.#closing && this.#requestsInFlight === 0) this.end()
  }

  /**
   * The server is stopping: refuse new work (ESHUTDOWN / NBD_REP_ERR_SHUTDOWN), let in-flight
   * requests finish, then end the session (spec: "wait for inflight requests to be serviced").
   */
  beginClose(): void {
    this.#closing = true
    if (this.#phase === 'handshake') this.destroy('server shutting down')
    else if (this.#phase === 'transmission' && this.#requestsInFlight === 0) this.end()
  }

  /** Abort in-flight operations and cut the connection. */
  destroy(reason: string): void {
    this.#closeReason ??= reason
    this.#controller.abort(new StoreError('ABORTED', reason))
    this.reader.close(reason)
    this.#stream.destroy()
    this.raw.destroy()
  }

  /** end() was called: the socket is closing softly (queued replies still go out). */
  get ending(): boolean {
    return this.#lingerTimer !== undefined
  }

  /** Soft close after NBD_OPT_ABORT / NBD_CMD_DISC: flush, close TLS, then the socket. */
  end(): void {
    this.#closeReason ??= 'session ended'
    this.reader.close(this.#closeReason)
    const stream = this.#stream
    if (!stream.destroyed) stream.end()
    // A peer that never closes its side must not keep the socket forever.
    this.#lingerTimer ??= setTimeout(() => this.raw.destroy(), lingerMs)
  }

  async #release(session: Session): Promise<void> {
    try {
      await session.blockExport.release()
    } catch (error) {
      if (isStoreError(error)) this.logger.warn({ err: error, export: session.exportName }, 'releasing the export failed')
      else this.options.onBug(asError(error))
    }
  }

  #handleFailure(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.logger.info({ client: this.options.clientKey, reason: error.message }, 'NBD client broke the protocol; disconnecting')
      this.destroy(error.message)
    } else if (isStoreError(error, 'CLOSED') || isStoreError(error, 'ABORTED')) {
      this.logger.debug({ client: this.options.clientKey, reason: error.message }, 'NBD connection closed')
      // After end() the reader is closed on purpose; cutting the socket would drop queued replies.
      if (!this.ending) this.destroy(error.message)
    } else if (isStoreError(error)) {
      this.logger.warn({ client: this.options.clientKey, err: error }, 'NBD connection failed')
      this.destroy(error.message)
    } else {
      this.destroy('internal error')
      this.options.onBug(asError(error))
    }
  }

  readonly #onStreamError = (error: Error): void => {
    // Resets and TLS alerts are how clients go away; the reader sees the close and unwinds.
    this.logger.debug({ client: this.options.clientKey, err: error }, 'NBD socket error')
    this.destroy(`socket error: ${error.message}`)
  }

  readonly #onClose = (): void => {
    this.#closeReason ??= 'the client closed the connection'
    this.#controller.abort(new StoreError('ABORTED', this.#closeReason))
    this.reader.close(this.#closeReason)
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

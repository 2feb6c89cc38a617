// ONC RPC server over TCP: record marking, call dispatch to programs, accepted/denied replies.
//
// Contract: many calls per connection run concurrently, at most rpcInFlightPerConnectionMax at
// once (more wait as decoded records, then the socket is paused so TCP pushes back); replies go
// out as each call finishes, so they may leave out of order (RPC matches them by xid). Reading
// also pauses while the socket's send buffer is full (a client that does not read its replies
// cannot make us queue without bound). Every call gets an AbortSignal that fires when its
// connection closes or the server stops.
//
// Errors: no program -> PROG_UNAVAIL; version outside the program's range -> PROG_MISMATCH;
// RpcAcceptError from a handler -> its status (PROC_UNAVAIL...); XdrDecodeError from a handler ->
// GARBAGE_ARGS; any other error -> SYSTEM_ERR, logged; an AssertionError/TypeError is a bug and
// also goes to onBug. Bytes that are not RPC at all (no xid, an oversized record) close the
// connection. The NULL procedure (0) answers itself for every program.
import net from 'node:net'
import { AssertionError } from 'node:assert'
import { nfsLimits } from '../lib/index.ts'
import type { NfsLogger } from './log.ts'
import { RecordReader, RecordTooLargeError, recordMark } from './rpc-record.ts'
import {
  acceptStat, decodeCall, encodeAcceptedReply, encodeAuthErrorReply, encodeRpcMismatchReply,
  type AcceptStat, type RpcCallHeader, type RpcCredential,
} from './rpc-message.ts'
import { isXdrDecodeError, XdrWriter, type XdrReader } from './xdr.ts'

export type { RpcCredential } from './rpc-message.ts'

export interface RpcConnection {
  /** Unique per server instance, never reused. */
  readonly id: number
  readonly remoteAddress: string
  readonly remotePort: number
}

export interface RpcCall extends RpcCallHeader {
  readonly args: XdrReader
  readonly connection: RpcConnection
  readonly signal: AbortSignal
}

export interface RpcProgram {
  readonly program: number
  readonly versionLow: number
  readonly versionHigh: number
  /** Encoded results of a non-NULL procedure. */
  handle(call: RpcCall): Promise<XdrWriter>
  /** A connection closed (sessions forget it). */
  connectionClosed?(connection: RpcConnection): void
}

/** Thrown by a handler to answer an accept status other than SUCCESS. */
export class RpcAcceptError extends Error {
  readonly stat: AcceptStat
  constructor(stat: AcceptStat, message: string) {
    super(message)
    this.name = 'RpcAcceptError'
    this.stat = stat
  }
}

export interface RpcServerOptions {
  programs: readonly RpcProgram[]
  logger: NfsLogger
  /** A bug (AssertionError/TypeError) surfaced in a handler: main logs and exits. */
  onBug?: (error: Error) => void
  maxRecordBytes?: number
  inFlightPerConnectionMax?: number
}

export interface RpcServer {
  readonly port: number
  readonly address: string
  /** Stop accepting; in-flight calls get graceMs to finish, then connections are cut. */
  close(graceMs?: number): Promise<void>
}

export function isBug(error: unknown): error is Error {
  return error instanceof AssertionError || error instanceof TypeError || error instanceof RangeError
}

export async function startRpcServer(options: RpcServerOptions, host: string, port: number): Promise<RpcServer> {
  const connections = new Set<ConnectionState>()
  let nextConnectionId = 1
  const server = net.createServer({ noDelay: true }, (socket) => {
    const state = new ConnectionState(socket, nextConnectionId++, options, () => connections.delete(state))
    connections.add(state)
  })
  server.maxConnections = nfsLimits.rpcConnectionsMax
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (error) => options.logger.error({ err: error }, 'NFS listener error'))
  const bound = server.address() as net.AddressInfo
  let closing: Promise<void> | undefined
  return {
    port: bound.port,
    address: bound.address,
    close(graceMs = 5_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        const deadline = Date.now() + graceMs
        for (const state of connections) state.stopReading()
        while ([...connections].some((state) => state.inFlight > 0) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        for (const state of connections) state.destroy()
        await closed
      })()
      return closing
    },
  }
}

class ConnectionState {
  readonly #socket: net.Socket
  readonly #options: RpcServerOptions
  readonly #records: RecordReader
  readonly #waiting: Buffer[] = []
  readonly #abort = new AbortController()
  readonly #maxInFlight: number
  readonly connection: RpcConnection
  inFlight = 0
  #stopped = false
  #closed = false

  constructor(socket: net.Socket, id: number, options: RpcServerOptions, onClose: () => void) {
    this.#socket = socket
    this.#options = options
    this.#records = new RecordReader(options.maxRecordBytes ?? nfsLimits.rpcRecordMaxBytes)
    this.#maxInFlight = options.inFlightPerConnectionMax ?? nfsLimits.rpcInFlightPerConnectionMax
    this.connection = { id, remoteAddress: normalizeAddress(socket.remoteAddress ?? ''), remotePort: socket.remotePort ?? 0 }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => this.#pump())
    socket.on('error', (error) => options.logger.debug({ err: error, connection: id }, 'NFS connection error'))
    socket.on('close', () => {
      this.#closed = true
      this.#abort.abort(new Error('connection closed'))
      this.#waiting.length = 0
      onClose()
      for (const program of options.programs) program.connectionClosed?.(this.connection)
    })
  }

  stopReading(): void {
    this.#stopped = true
    this.#socket.pause()
  }

  destroy(): void {
    this.#abort.abort(new Error('server stopping'))
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    try {
      for (const record of this.#records.push(chunk)) this.#waiting.push(record)
    } catch (error) {
      if (!(error instanceof RecordTooLargeError)) throw error
      this.#options.logger.warn({ connection: this.connection.id, reason: error.message }, 'NFS connection closed: record too large')
      this.#socket.destroy()
      return
    }
    this.#pump()
  }

  /** Start waiting records while there is room; pause the socket while there is not. */
  #pump(): void {
    while (!this.#closed && this.inFlight < this.#maxInFlight && this.#waiting.length > 0 && !this.#socket.writableNeedDrain) {
      const record = this.#waiting.shift() as Buffer
      this.inFlight += 1
      void this.#serve(record).finally(() => {
        this.inFlight -= 1
        this.#pump()
      })
    }
    const full = this.#waiting.length > 0 || this.inFlight >= this.#maxInFlight || this.#socket.writableNeedDrain
    if (full || this.#stopped) this.#socket.pause()
    else this.#socket.resume()
  }

  async #serve(record: Buffer): Promise<void> {
    const decoded = decodeCall(record)
    switch (decoded.kind) {
      case 'unparseable':
        this.#options.logger.debug({ connection: this.connection.id, reason: decoded.reason }, 'NFS connection closed: not RPC')
        this.#socket.destroy()
        return
      case 'not-a-call':
        return
      case 'rpc-mismatch':
        return this.#send(encodeRpcMismatchReply(decoded.xid))
      case 'auth-error':
        this.#options.logger.debug({ connection: this.connection.id, reason: decoded.reason }, 'RPC credential refused')
        return this.#send(encodeAuthErrorReply(decoded.xid, decoded.stat))
      case 'garbage':
        return this.#send(encodeAcceptedReply(decoded.xid, acceptStat.garbageArgs))
      case 'call':
        return this.#send(await this.#dispatch(decoded.header, decoded.args))
    }
  }

  async #dispatch(header: RpcCallHeader, args: XdrReader): Promise<XdrWriter> {
    const program = this.#options.programs.find((candidate) => candidate.program === header.program)
    if (program === undefined) return encodeAcceptedReply(header.xid, acceptStat.progUnavail)
    if (header.version < program.versionLow || header.version > program.versionHigh) {
      return encodeAcceptedReply(header.xid, acceptStat.progMismatch, undefined, { low: program.versionLow, high: program.versionHigh })
    }
    if (header.procedure === 0) {
      return encodeAcceptedReply(header.xid, args.remainingBytes === 0 ? acceptStat.success : acceptStat.garbageArgs, new XdrWriter())
    }
    try {
      const results = await program.handle({ ...header, args, connection: this.connection, signal: this.#abort.signal })
      return encodeAcceptedReply(header.xid, acceptStat.success, results)
    } catch (error) {
      return encodeAcceptedReply(header.xid, this.#statusOf(error, header))
    }
  }

  #statusOf(error: unknown, header: RpcCallHeader): AcceptStat {
    if (error instanceof RpcAcceptError) return error.stat
    if (isXdrDecodeError(error)) return acceptStat.garbageArgs
    const fields = { err: error, connection: this.connection.id, program: header.program, procedure: header.procedure }
    if (isBug(error)) {
      this.#options.logger.error(fields, 'bug in an RPC handler')
      this.#options.onBug?.(error)
    } else if (!this.#abort.signal.aborted) {
      this.#options.logger.error(fields, 'RPC handler failed')
    }
    return acceptStat.systemErr
  }

  #send(reply: XdrWriter): void {
    if (this.#closed) return
    const socket = this.#socket
    socket.cork()
    socket.write(recordMark(reply.length))
    for (const part of reply.buffers()) socket.write(part)
    socket.uncork()
  }
}

/** "::ffff:127.0.0.1" -> "127.0.0.1", so export rules written for IPv4 match. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

export type RpcCredentialSys = Extract<RpcCredential, { flavor: 'sys' }>

// Exact-length reads from a byte stream (a TCP/Unix socket, or the TLS socket that replaces it
// after NBD_OPT_STARTTLS), with bounded buffering: the stream is paused while more than
// `aheadBytes` (or the pending read's length, if larger) sit unread, so a client that sends
// faster than the server serves is slowed by TCP, never by memory.
//
// Two ways bytes arrive: 'data' events (chunks the reader may keep), or feed() from a socket
// that reads into one reused receive buffer (adoptSocket: Node then allocates nothing per read;
// a fresh ArrayBuffer per 64 KiB read made V8's GC the main cost of 1 MiB writes). Fed bytes
// are copied before feed() returns. A read that has to wait gets its result buffer at once and
// arriving bytes are copied straight into it, so each payload byte is copied once.
//
// Contract: one read at a time (the protocol is parsed by one loop per connection). Once the
// stream ended or errored, or close() was called, every read rejects with StoreError CLOSED,
// buffered bytes are dropped and later input is discarded (the stream keeps flowing so the
// peer's FIN still arrives).
// detach() hands the stream over (STARTTLS): listeners removed, stream paused.
import { Socket, type SocketConstructorOpts } from 'node:net'
import type { Duplex } from 'node:stream'
import { assert, StoreError } from '../lib/index.ts'

/** Gives the reader a buffer to assemble a read that spans received chunks. */
export type Allocate = (lengthBytes: number) => Buffer

interface PendingRead {
  /** The result, filled as bytes arrive. */
  out: Buffer
  filled: number
  resolve: (bytes: Buffer) => void
  reject: (error: Error) => void
}

export class SocketReader {
  readonly #aheadBytes: number
  #stream: Duplex | undefined
  #chunks: Buffer[] = []
  #bufferedBytes = 0
  #pending: PendingRead | undefined
  #closedReason: string | undefined
  #paused = false
  #fed = false

  /** fed: bytes come through feed() (adoptSocket), not 'data' events. */
  constructor(stream: Duplex, aheadBytes: number, options: { fed?: boolean } = {}) {
    assert(aheadBytes > 0, 'read-ahead is positive')
    this.#aheadBytes = aheadBytes
    this.attach(stream, options)
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  attach(stream: Duplex, options: { fed?: boolean } = {}): void {
    assert(this.#stream === undefined, 'reader already attached')
    this.#stream = stream
    this.#fed = options.fed === true
    if (!this.#fed) stream.on('data', this.#onData)
    stream.on('end', this.#onEnd)
    stream.on('close', this.#onEnd)
    stream.on('error', this.#onError)
    this.#paused = false
    stream.resume()
  }

  /** Stop reading from the stream and give it back; buffered bytes stay here. */
  detach(): Duplex {
    const stream = this.#stream
    assert(stream !== undefined, 'reader is attached')
    stream.pause()
    if (!this.#fed) stream.off('data', this.#onData)
    this.#fed = false
    stream.off('end', this.#onEnd)
    stream.off('close', this.#onEnd)
    stream.off('error', this.#onError)
    this.#stream = undefined
    return stream
  }

  /**
   * Exactly lengthBytes bytes: a view of the received chunk when one holds them all, else a copy
   * into allocate(lengthBytes) (a fresh Buffer without it). The caller owns an allocated buffer.
   */
  readExactly(lengthBytes: number, allocate?: Allocate): Promise<Buffer> {
    assert(this.#pending === undefined, 'one read at a time')
    assert(Number.isSafeInteger(lengthBytes) && lengthBytes >= 0, 'read length')
    if (this.#bufferedBytes >= lengthBytes) return Promise.resolve(this.#take(lengthBytes, allocate))
    if (this.#closedReason !== undefined) return Promise.reject(this.#closedError())
    return new Promise((resolve, reject) => {
      const out = allocate === undefined ? Buffer.allocUnsafe(lengthBytes) : allocate(lengthBytes)
      assert(out.length === lengthBytes, 'an allocated buffer has the length asked')
      const filled = this.#bufferedBytes
      this.#copyOut(out, filled)
      this.#pending = { out, filled, resolve, reject }
      this.#flowControl()
    })
  }

  /** Bytes from a reused receive buffer (adoptSocket): copied before this returns. */
  feed(bytes: Buffer): void {
    this.#onBytes(bytes, true)
  }

  /** Read and drop lengthBytes bytes without holding more than the read-ahead in memory. */
  async discard(lengthBytes: number): Promise<void> {
    let remaining = lengthBytes
    while (remaining > 0) {
      const step = Math.min(remaining, this.#aheadBytes)
      await this.readExactly(step)
      remaining -= step
    }
  }

  #take(lengthBytes: number, allocate: Allocate | undefined): Buffer {
    const first = this.#chunks[0]
    let out: Buffer
    if (lengthBytes === 0) {
      out = Buffer.alloc(0)
    } else if (first !== undefined && first.length >= lengthBytes) {
      out = first.subarray(0, lengthBytes)
      if (first.length === lengthBytes) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(lengthBytes)
    } else {
      out = allocate === undefined ? Buffer.allocUnsafe(lengthBytes) : allocate(lengthBytes)
      assert(out.length === lengthBytes, 'an allocated buffer has the length asked')
      this.#copyOut(out, lengthBytes)
      this.#flowControl()
      return out
    }
    this.#bufferedBytes -= lengthBytes
    this.#flowControl()
    return out
  }

  /** Move the first lengthBytes buffered bytes into out[0, lengthBytes). */
  #copyOut(out: Buffer, lengthBytes: number): void {
    let filled = 0
    while (filled < lengthBytes) {
      const chunk = this.#chunks[0]
      assert(chunk !== undefined, 'buffered bytes are in chunks')
      const step = Math.min(chunk.length, lengthBytes - filled)
      chunk.copy(out, filled, 0, step)
      filled += step
      if (step === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(step)
    }
    this.#bufferedBytes -= lengthBytes
  }

  #flowControl(): void {
    const stream = this.#stream
    if (stream === undefined) return
    const limit = Math.max(this.#aheadBytes, this.#pending?.out.length ?? 0)
    if (this.#bufferedBytes >= limit && !this.#paused) {
      this.#paused = true
      stream.pause()
    } else if (this.#bufferedBytes < limit && this.#paused) {
      this.#paused = false
      stream.resume()
    }
  }

  readonly #onData = (chunk: Buffer | string): void => {
    this.#onBytes(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, false)
  }

  /** transient: the bytes are overwritten after this returns, so whatever stays is copied. */
  #onBytes(chunk: Buffer, transient: boolean): void {
    // Once closed nothing reads again: drop input and keep flowing so the peer's FIN arrives.
    if (this.#closedReason !== undefined) return
    let bytes = chunk
    const pending = this.#pending
    if (pending !== undefined) {
      const step = Math.min(bytes.length, pending.out.length - pending.filled)
      bytes.copy(pending.out, pending.filled, 0, step)
      pending.filled += step
      bytes = bytes.subarray(step)
      if (pending.filled === pending.out.length) {
        this.#pending = undefined
        pending.resolve(pending.out)
      }
    }
    if (bytes.length > 0) {
      this.#chunks.push(transient ? Buffer.from(bytes) : bytes)
      this.#bufferedBytes += bytes.length
    }
    this.#flowControl()
  }

  readonly #onEnd = (): void => {
    this.#close('the client closed the connection')
  }

  readonly #onError = (error: Error): void => {
    this.#close(`connection error: ${error.message}`)
  }

  /** Fail the pending read and every later one (called on end/error, or by the owner). */
  close(reason: string): void {
    this.#close(reason)
  }

  #close(reason: string): void {
    this.#closedReason ??= reason
    this.#chunks = []
    this.#bufferedBytes = 0
    if (this.#paused) {
      this.#paused = false
      this.#stream?.resume()
    }
    const pending = this.#pending
    if (pending !== undefined) {
      this.#pending = undefined
      pending.reject(this.#closedError())
    }
  }

  #closedError(): StoreError {
    return new StoreError('CLOSED', this.#closedReason ?? 'connection closed')
  }
}

/** Bytes of the receive buffer adoptSocket gives each socket (libuv reads at most this much at once). */
export const receiveBufferBytes = 64 * 1024

/**
 * The same connection as a socket that reads into one reused receive buffer and hands each read
 * to reader.feed(). `accepted` must come from a server created with pauseOnConnect (nothing read
 * yet); it is left without a handle. Node offers this (`onread`) only through the Socket
 * constructor, so the accepted socket's handle moves into a new Socket.
 */
export function adoptSocket(accepted: Socket, aheadBytes: number): { socket: Socket; reader: SocketReader } {
  const internal = accepted as unknown as { _handle: SocketConstructorOpts['handle'] | null }
  const handle = internal._handle
  assert(handle !== null && handle !== undefined, 'an accepted socket has a handle')
  internal._handle = null
  accepted.destroy()
  let reader: SocketReader | undefined
  const options: SocketConstructorOpts = {
    handle, // how net.Server itself builds accepted sockets
    readable: true,
    writable: true,
    onread: {
      buffer: Buffer.allocUnsafe(receiveBufferBytes),
      callback: (bytes: number, buffer: Uint8Array) => {
        reader?.feed(Buffer.from(buffer.buffer, buffer.byteOffset, bytes))
        return true
      },
    },
  }
  const socket = new Socket(options)
  reader = new SocketReader(socket, aheadBytes, { fed: true })
  return { socket, reader }
}

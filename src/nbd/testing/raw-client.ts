// A small NBD client for tests, speaking the wire format byte by byte so tests can send what
// real clients never do (bad magic, bad flags, misaligned or oversized requests, garbage) and
// see exactly what the server answers. Not for production use.
//
// Usage: `const client = await RawNbdClient.connect({ port })`, then either the handshake
// helpers (`await client.handshake(); await client.go('vol')`) and `client.request(...)` (replies
// are matched by handle, so requests may be pipelined), or raw `write()` / `reader` access.
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as connectTls } from 'node:tls'
import { assert, must, StoreError } from '../../lib/index.ts'
import {
  IHAVEOPT, NBD_CMD_READ, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE, NBD_INFO_EXPORT, NBD_OPT_GO, NBD_OPT_SET_META_CONTEXT, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK,
  NBD_REP_INFO, NBD_REP_MAGIC, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_ERROR_OFFSET, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE, NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC, NBD_STRUCTURED_REPLY_MAGIC, NBDMAGIC,
} from '../protocol.ts'
import { SocketReader } from '../socket-reader.ts'

export type Target = { port: number; host?: string } | { path: string }

export interface OptionReply {
  option: number
  type: number
  data: Buffer
}

export interface Chunk {
  flags: number
  type: number
  payload: Buffer
}

export interface Reply {
  errno: number
  /** READ: the assembled data (holes as zeroes). */
  data: Buffer | undefined
  /** Structured chunks in arrival order (empty for a simple reply). */
  chunks: Chunk[]
  simple: boolean
  /** Structured error message, if any. */
  message: string | undefined
}

export interface RequestSpec {
  type: number
  flags?: number
  offsetBytes?: number | bigint
  lengthBytes?: number
  data?: Buffer
}

export interface GoResult {
  sizeBytes: number
  transmissionFlags: number
  blockSizes: { minimumBytes: number; preferredBytes: number; maximumBytes: number } | undefined
}

export class RawNbdClient {
  readonly socket: Socket
  readonly reader: SocketReader
  #stream: Duplex
  structured = false
  #nextHandle = 1n
  #pending = new Map<bigint, { spec: RequestSpec; chunks: Chunk[]; resolve: (reply: Reply) => void; reject: (error: Error) => void }>()
  #replyLoop: Promise<void> | undefined
  readonly closed: Promise<void>

  constructor(socket: Socket) {
    this.socket = socket
    this.#stream = socket
    this.reader = new SocketReader(socket, 1 << 20)
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => undefined) // resets are expected in tests; `closed` reports the end
  }

  static connect(target: Target): Promise<RawNbdClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? connect({ path: target.path }) : connect({ port: target.port, host: target.host ?? '127.0.0.1' })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawNbdClient(socket))
      })
    })
  }

  write(bytes: Buffer): void {
    this.#stream.write(bytes)
  }

  /** After an ACK to NBD_OPT_STARTTLS: continue over TLS (the test server's certificate is not verified). */
  async startTls(): Promise<void> {
    this.reader.detach()
    const secure = connectTls({ socket: this.socket, rejectUnauthorized: false })
    secure.on('error', () => undefined) // the reader reports the end
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve())
      secure.once('close', () => reject(new StoreError('CLOSED', 'TLS handshake failed')))
    })
    this.#stream = secure
    this.reader.attach(secure)
  }

  close(): void {
    this.socket.destroy()
  }

  /** Read the greeting and send client flags; returns the server's handshake flags. */
  async handshake(clientFlags = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES): Promise<number> {
    const greeting = await this.reader.readExactly(18)
    assert(greeting.readBigUInt64BE(0) === NBDMAGIC && greeting.readBigUInt64BE(8) === IHAVEOPT, 'server greeting')
    const flags = Buffer.alloc(4)
    flags.writeUInt32BE(clientFlags)
    this.write(flags)
    return greeting.readUInt16BE(16)
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const header = Buffer.alloc(16)
    header.writeBigUInt64BE(IHAVEOPT, 0)
    header.writeUInt32BE(option, 8)
    header.writeUInt32BE(data.length, 12)
    this.write(Buffer.concat([header, data]))
  }

  async readOptionReply(): Promise<OptionReply> {
    const header = await this.reader.readExactly(20)
    assert(header.readBigUInt64BE(0) === NBD_REP_MAGIC, 'option reply magic')
    const data = await this.reader.readExactly(header.readUInt32BE(16))
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data }
  }

  /** Replies up to and including the first ACK or error. */
  async optionReplies(): Promise<OptionReply[]> {
    const replies: OptionReply[] = []
    for (;;) {
      const reply = await this.readOptionReply()
      replies.push(reply)
      if (reply.type === NBD_REP_ACK || reply.type >= 2 ** 31) return replies
    }
  }

  async option(option: number, data?: Buffer): Promise<OptionReply[]> {
    this.sendOption(option, data)
    return this.optionReplies()
  }

  async negotiateStructured(): Promise<void> {
    const [reply] = await this.option(NBD_OPT_STRUCTURED_REPLY)
    assert(reply?.type === NBD_REP_ACK, 'structured replies acknowledged')
    this.structured = true
  }

  async setMetaContext(exportName: string, queries: string[]): Promise<OptionReply[]> {
    return this.option(NBD_OPT_SET_META_CONTEXT, encodeMetaContextRequestData(exportName, queries))
  }

  /** NBD_OPT_GO; on success the transmission phase starts and replies are read in the background. */
  async go(exportName: string, infoTypes: number[] = [NBD_INFO_BLOCK_SIZE]): Promise<GoResult | OptionReply> {
    const replies = await this.option(NBD_OPT_GO, encodeInfoRequestData(exportName, infoTypes))
    const last = replies.at(-1)
    if (last === undefined || last.type !== NBD_REP_ACK) return must(last)
    const result: GoResult = { sizeBytes: 0, transmissionFlags: 0, blockSizes: undefined }
    for (const reply of replies.filter((candidate) => candidate.type === NBD_REP_INFO)) {
      const infoType = reply.data.readUInt16BE(0)
      if (infoType === NBD_INFO_EXPORT) {
        result.sizeBytes = Number(reply.data.readBigUInt64BE(2))
        result.transmissionFlags = reply.data.readUInt16BE(10)
      } else if (infoType === NBD_INFO_BLOCK_SIZE) {
        result.blockSizes = { minimumBytes: reply.data.readUInt32BE(2), preferredBytes: reply.data.readUInt32BE(6), maximumBytes: reply.data.readUInt32BE(10) }
      }
    }
    this.startReplies()
    return result
  }

  startReplies(): void {
    this.#replyLoop ??= this.#readReplies()
  }

  /** Send one request; the promise settles with its reply (or rejects when the connection ends). */
  request(spec: RequestSpec): Promise<Reply> {
    const handle = this.#nextHandle
    this.#nextHandle += 1n
    this.write(encodeRequest(spec, handle))
    return new Promise((resolve, reject) => this.#pending.set(handle, { spec, chunks: [], resolve, reject }))
  }

  /** Send a request whose reply is never expected (NBD_CMD_DISC, or a deliberately bad one). */
  sendRequest(spec: RequestSpec, handle = 0xffffn): void {
    this.write(encodeRequest(spec, handle))
  }

  get pendingRequests(): number {
    return this.#pending.size
  }

  async #readReplies(): Promise<void> {
    try {
      for (;;) {
        const magic = (await this.reader.readExactly(4)).readUInt32BE(0)
        if (magic === NBD_SIMPLE_REPLY_MAGIC) await this.#simpleReply()
        else if (magic === NBD_STRUCTURED_REPLY_MAGIC) await this.#structuredChunk()
        else throw new StoreError('INVALID_ARGUMENT', `bad reply magic 0x${magic.toString(16)}`)
      }
    } catch (error) {
      for (const pending of this.#pending.values()) pending.reject(error as Error)
      this.#pending.clear()
    }
  }

  async #simpleReply(): Promise<void> {
    const rest = await this.reader.readExactly(12)
    const errno = rest.readUInt32BE(0)
    const handle = rest.readBigUInt64BE(4)
    const pending = this.#pending.get(handle)
    assert(pending !== undefined, `reply for an unknown handle ${handle}`)
    this.#pending.delete(handle)
    const isRead = pending.spec.type === NBD_CMD_READ
    const data = isRead && errno === 0 ? await this.reader.readExactly(pending.spec.lengthBytes ?? 0) : undefined
    pending.resolve({ errno, data: data === undefined ? undefined : Buffer.from(data), chunks: [], simple: true, message: undefined })
  }

  async #structuredChunk(): Promise<void> {
    const rest = await this.reader.readExactly(16)
    const flags = rest.readUInt16BE(0)
    const type = rest.readUInt16BE(2)
    const handle = rest.readBigUInt64BE(4)
    const payload = Buffer.from(await this.reader.readExactly(rest.readUInt32BE(12)))
    const pending = this.#pending.get(handle)
    assert(pending !== undefined, `chunk for an unknown handle ${handle}`)
    pending.chunks.push({ flags, type, payload })
    if ((flags & NBD_REPLY_FLAG_DONE) === 0) return
    this.#pending.delete(handle)
    pending.resolve(assemble(pending.spec, pending.chunks))
  }
}

function assemble(spec: RequestSpec, chunks: Chunk[]): Reply {
  let errno = 0
  let message: string | undefined
  const isRead = spec.type === NBD_CMD_READ
  const data = isRead ? Buffer.alloc(spec.lengthBytes ?? 0) : undefined
  const start = Number(spec.offsetBytes ?? 0)
  for (const chunk of chunks) {
    if (chunk.type === NBD_REPLY_TYPE_ERROR || chunk.type === NBD_REPLY_TYPE_ERROR_OFFSET) {
      errno = chunk.payload.readUInt32BE(0)
      message = chunk.payload.subarray(6, 6 + chunk.payload.readUInt16BE(4)).toString('utf8')
    } else if (chunk.type === NBD_REPLY_TYPE_OFFSET_DATA && data !== undefined) {
      chunk.payload.copy(data, Number(chunk.payload.readBigUInt64BE(0)) - start, 8)
    } else if (chunk.type === NBD_REPLY_TYPE_OFFSET_HOLE && data !== undefined) {
      const at = Number(chunk.payload.readBigUInt64BE(0)) - start
      data.fill(0, at, at + chunk.payload.readUInt32BE(8))
    }
  }
  return { errno, data: errno === 0 ? data : undefined, chunks, simple: false, message }
}

/** Descriptors of a BLOCK_STATUS chunk: [lengthBytes, status] pairs. */
export function blockStatusOf(reply: Reply): Array<[number, number]> {
  const chunk = reply.chunks.find((candidate) => candidate.type === NBD_REPLY_TYPE_BLOCK_STATUS)
  assert(chunk !== undefined, 'a block status chunk')
  const descriptors: Array<[number, number]> = []
  for (let at = 4; at < chunk.payload.length; at += 8) descriptors.push([chunk.payload.readUInt32BE(at), chunk.payload.readUInt32BE(at + 4)])
  return descriptors
}

export function encodeRequest(spec: RequestSpec, handle: bigint): Buffer {
  const header = Buffer.alloc(28)
  header.writeUInt32BE(NBD_REQUEST_MAGIC, 0)
  header.writeUInt16BE(spec.flags ?? 0, 4)
  header.writeUInt16BE(spec.type, 6)
  header.writeBigUInt64BE(handle, 8)
  header.writeBigUInt64BE(BigInt(spec.offsetBytes ?? 0), 16)
  header.writeUInt32BE(spec.lengthBytes ?? spec.data?.length ?? 0, 24)
  return spec.data === undefined ? header : Buffer.concat([header, spec.data])
}

export function encodeInfoRequestData(exportName: string, infoTypes: number[]): Buffer {
  const name = Buffer.from(exportName, 'utf8')
  const out = Buffer.alloc(6 + name.length + 2 * infoTypes.length)
  out.writeUInt32BE(name.length, 0)
  name.copy(out, 4)
  out.writeUInt16BE(infoTypes.length, 4 + name.length)
  infoTypes.forEach((type, index) => out.writeUInt16BE(type, 6 + name.length + 2 * index))
  return out
}

export function encodeMetaContextRequestData(exportName: string, queries: string[]): Buffer {
  const parts: Buffer[] = []
  const string = (text: string): void => {
    const bytes = Buffer.from(text, 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    parts.push(length, bytes)
  }
  string(exportName)
  const count = Buffer.alloc(4)
  count.writeUInt32BE(queries.length)
  parts.push(count)
  for (const query of queries) string(query)
  return Buffer.concat(parts)
}

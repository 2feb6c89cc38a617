// A small ONC RPC client over TCP for tests: sends calls (or raw bytes), matches replies by xid.
// Not for production: no reconnects, no timeouts beyond the test's own.
import net from 'node:net'
import { nfsLimits } from '../../lib/index.ts'
import { RecordReader, recordMark } from '../rpc-record.ts'
import { decodeReply, encodeCall, type DecodedReply, type RpcCredential } from '../rpc-message.ts'
import type { XdrWriter } from '../xdr.ts'

export class RpcTestClient {
  readonly #socket: net.Socket
  readonly #records = new RecordReader(nfsLimits.rpcRecordMaxBytes * 4)
  readonly #pending = new Map<number, { resolve: (reply: DecodedReply) => void; reject: (error: Error) => void }>()
  #nextXid = 1
  #closed: Error | undefined
  readonly closed: Promise<void>
  credential: RpcCredential = { flavor: 'sys', stamp: 1, machineName: 'test-client', uid: 0, gid: 0, gids: [] }

  private constructor(socket: net.Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      for (const record of this.#records.push(chunk)) {
        const reply = decodeReply(record)
        const waiter = this.#pending.get(reply.xid)
        if (waiter === undefined) continue
        this.#pending.delete(reply.xid)
        waiter.resolve(reply)
      }
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = new Error('connection closed')
        for (const waiter of this.#pending.values()) waiter.reject(this.#closed)
        this.#pending.clear()
        resolve()
      })
    })
    socket.on('error', () => {})
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RpcTestClient> {
    const socket = net.connect({ port, host, noDelay: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RpcTestClient(socket)
  }

  get isClosed(): boolean {
    return this.#closed !== undefined
  }

  call(program: number, version: number, procedure: number, args?: XdrWriter, credential = this.credential): Promise<DecodedReply> {
    const xid = this.#nextXid++
    const message = encodeCall({ xid, program, version, procedure, credential }, args).toBuffer()
    return this.callRaw(xid, message)
  }

  /** Send an already encoded message (its xid must be `xid`) as one record. */
  callRaw(xid: number, message: Buffer, fragmentBytes?: number): Promise<DecodedReply> {
    if (this.#closed) return Promise.reject(this.#closed)
    const reply = new Promise<DecodedReply>((resolve, reject) => this.#pending.set(xid, { resolve, reject }))
    this.sendRecord(message, fragmentBytes)
    return reply
  }

  /** Send bytes as one record, split into fragments of fragmentBytes. */
  sendRecord(message: Buffer, fragmentBytes = message.length): void {
    const size = Math.max(1, fragmentBytes)
    for (let offset = 0; offset < message.length || offset === 0; offset += size) {
      const piece = message.subarray(offset, offset + size)
      const last = offset + size >= message.length
      const header = last ? recordMark(piece.length) : Buffer.from([0, 0, 0, 0])
      if (!last) header.writeUInt32BE(piece.length, 0)
      this.#socket.write(Buffer.concat([header, piece]))
      if (message.length === 0) break
    }
  }

  sendBytes(bytes: Buffer): void {
    this.#socket.write(bytes)
  }

  nextXid(): number {
    return this.#nextXid++
  }

  async close(): Promise<void> {
    this.#socket.end()
    this.#socket.destroySoon()
    await this.closed
  }
}

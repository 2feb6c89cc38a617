// NFSv4.1 load client of the nfs benchmark (helper of bench/nfs.ts, not a benchmark on its own): one TCP connection, one session, many requests in flight
//
// Speaks ONC RPC over TCP (AUTH_SYS as root) and NFSv4.1 COMPOUNDs with the encoders of
// src/nfs (XdrWriter, encodeCall, RecordReader) and the operation builders of the test client
// (src/nfs/testing/nfs-client.ts). Differences from that test client, all for throughput:
// - up to `slots` compounds in flight on one session (a free slot is taken per compound; SEQUENCE
//   ids per slot), not one at a time on slot 0;
// - requests go out as one corked writev of the record mark and the encoder's buffer list, so a
//   1 MiB WRITE payload is never copied on the client;
// - GETATTR, READ and READDIR results are skimmed (lengths checked, values not decoded into
//   objects): the client should cost as little CPU as possible, since it shares the 2 cores with
//   the server under test.
// Contract: every reply is matched by xid; a compound whose SEQUENCE fails or whose status is not
// NFS4_OK rejects (CompoundError with the failing op and status); a lost connection rejects every
// pending call. Never: reuse a slot before its reply arrived; retry anything (the benchmark wants
// to see errors, not hide them).
import net from 'node:net'
import { RecordReader, recordMark } from '../src/nfs/rpc-record.ts'
import { acceptStat, decodeReply, encodeCall, type RpcCredential } from '../src/nfs/rpc-message.ts'
import { XdrWriter, type XdrReader } from '../src/nfs/xdr.ts'
import { decodeCompound, ops, type OpSpec, type Stateid } from '../src/nfs/testing/nfs-client.ts'
import { attr, compoundProcedure, nfsProgram, nfsVersion4, op, status } from '../src/nfs/v4/constants.ts'

/** Requests of up to this size must fit the session (a 1 MiB WRITE plus its compound). */
const requestMaxBytes = (1 << 20) + 16 * 1024
/** A session with nothing sent for this long sends a SEQUENCE to renew its lease (leases: 60 s on both servers). */
const heartbeatMs = 10_000
/** Replies are bounded by the server's READ / READDIR sizes; records larger than this are a protocol error here. */
const recordMaxBytes = 4 << 20

export class CompoundError extends Error {
  readonly opnum: number
  readonly status: number
  constructor(opnum: number, opStatus: number, what: string) {
    super(`${what}: op ${opnum} failed with NFS4 status ${opStatus}`)
    this.name = 'CompoundError'
    this.opnum = opnum
    this.status = opStatus
  }
}

interface Pending {
  resolve: (results: XdrReader) => void
  reject: (error: Error) => void
}

class RpcConnection {
  readonly #socket: net.Socket
  readonly #records = new RecordReader(recordMaxBytes)
  readonly #pending = new Map<number, Pending>()
  readonly #credential: RpcCredential = { flavor: 'sys', stamp: 1, machineName: 'cairn-bench', uid: 0, gid: 0, gids: [] }
  #nextXid = 1
  #failure: Error | undefined

  private constructor(socket: net.Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      let records: Buffer[]
      try {
        records = this.#records.push(chunk)
      } catch (error) {
        this.#fail(error as Error)
        return
      }
      for (const record of records) this.#deliver(record)
    })
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('NFS connection closed')))
  }

  static async connect(host: string, port: number): Promise<RpcConnection> {
    const socket = net.connect({ host, port, noDelay: true })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RpcConnection(socket)
  }

  #deliver(record: Buffer): void {
    const reply = decodeReply(record)
    const waiter = this.#pending.get(reply.xid)
    if (waiter === undefined) return
    this.#pending.delete(reply.xid)
    if (reply.kind !== 'accepted' || reply.stat !== acceptStat.success) waiter.reject(new Error(`RPC call ${reply.xid} not accepted: ${JSON.stringify({ ...reply, results: undefined })}`))
    else waiter.resolve(reply.results)
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const waiter of this.#pending.values()) waiter.reject(this.#failure)
    this.#pending.clear()
  }

  /** One NFSv4 COMPOUND call; resolves with the reader positioned at the COMPOUND4res. */
  compound(args: XdrWriter): Promise<XdrReader> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const xid = this.#nextXid++
    const message = encodeCall({ xid, program: nfsProgram, version: nfsVersion4, procedure: compoundProcedure, credential: this.#credential }, args)
    const reply = new Promise<XdrReader>((resolve, reject) => this.#pending.set(xid, { resolve, reject }))
    this.#socket.cork()
    this.#socket.write(recordMark(message.length))
    for (const part of message.buffers()) this.#socket.write(part)
    this.#socket.uncork()
    return reply
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve()
      this.#socket.once('close', () => resolve())
      this.#socket.end()
    })
  }
}

export interface SessionLimits {
  slots: number
  maxRequestBytes: number
  maxResponseBytes: number
}

/** An NFSv4.1 client id with one session on one connection. */
export class NfsSession {
  readonly clientId: bigint
  readonly limits: SessionLimits
  /** Open owner shared by every OPEN (4.1 open owners need no seqid ordering). */
  readonly openOwner = Buffer.from('cairn-bench-open-owner')
  readonly #connection: RpcConnection
  readonly #sessionId: Buffer
  readonly #sequenceIds: number[]
  readonly #freeSlots: number[]
  readonly #waiting: Array<(slot: number) => void> = []
  /** COMPOUNDs sent (each is one RPC round trip). */
  compounds = 0
  #lastSentMs = Date.now()
  #heartbeat: ReturnType<typeof setInterval> | undefined

  private constructor(connection: RpcConnection, clientId: bigint, sessionId: Buffer, limits: SessionLimits) {
    this.#connection = connection
    this.clientId = clientId
    this.#sessionId = sessionId
    this.limits = limits
    this.#sequenceIds = new Array<number>(limits.slots).fill(0)
    this.#freeSlots = Array.from({ length: limits.slots }, (_, slot) => limits.slots - 1 - slot)
  }

  /** EXCHANGE_ID + CREATE_SESSION (asking for `slots` slots) + RECLAIM_COMPLETE. */
  static async open(host: string, port: number, slots: number, name: string): Promise<NfsSession> {
    const connection = await RpcConnection.connect(host, port)
    try {
      const exchange = ops.exchangeId(Buffer.from(`${process.pid}`.padEnd(8, '-').slice(0, 8)), Buffer.from(name))
      const [exchanged] = (await sessionless(connection, [exchange], 'EXCHANGE_ID')) as [{ clientId: bigint; sequenceId: number }]
      const create = createSession(exchanged.clientId, exchanged.sequenceId, slots)
      const [created] = (await sessionless(connection, [create], 'CREATE_SESSION')) as [{ sessionId: Buffer; limits: SessionLimits }]
      if (created.limits.maxRequestBytes < requestMaxBytes - 8 * 1024) {
        throw new Error(`the server's session takes requests up to ${created.limits.maxRequestBytes} bytes: too small for 1 MiB WRITEs`)
      }
      const session = new NfsSession(connection, exchanged.clientId, created.sessionId, created.limits)
      await session.compound([ops.reclaimComplete()], 'RECLAIM_COMPLETE')
      session.#keepAlive()
      return session
    } catch (error) {
      await connection.close()
      throw error
    }
  }

  /**
   * While the other server runs a line, this session is idle for minutes: renew its lease with a
   * SEQUENCE-only compound whenever nothing was sent for heartbeatMs (as the Linux client does),
   * or the server expires the client (NFS4ERR_BADSESSION on the next line).
   */
  #keepAlive(): void {
    this.#heartbeat = setInterval(() => {
      if (Date.now() - this.#lastSentMs < heartbeatMs) return
      this.compound([], 'SEQUENCE (lease renewal)').catch(() => undefined) // a real failure shows on the next line
    }, heartbeatMs / 2)
    this.#heartbeat.unref()
  }

  async #takeSlot(): Promise<number> {
    const slot = this.#freeSlots.pop()
    if (slot !== undefined) return slot
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  #releaseSlot(slot: number): void {
    const next = this.#waiting.shift()
    if (next !== undefined) next(slot)
    else this.#freeSlots.push(slot)
  }

  /** SEQUENCE + specs on a free slot; resolves with the decoded values of specs (SEQUENCE dropped). */
  async compound(specs: readonly OpSpec[], what: string): Promise<unknown[]> {
    const slot = await this.#takeSlot()
    try {
      const sequenceId = (this.#sequenceIds[slot] as number) + 1
      const list = [sequence(this.#sessionId, sequenceId, slot, this.limits.slots - 1), ...specs]
      this.#lastSentMs = Date.now()
      const results = await this.#connection.compound(encodeCompound(list))
      this.compounds += 1
      const reply = decodeCompound(results, list)
      const sequenced = reply.results[0]
      // The slot's sequence id moves only when the server accepted SEQUENCE.
      if (sequenced !== undefined && sequenced.opnum === op.SEQUENCE && sequenced.status === status.OK) this.#sequenceIds[slot] = sequenceId
      if (reply.status !== status.OK) {
        const failed = reply.results.at(-1)
        throw new CompoundError(failed?.opnum ?? -1, failed?.status ?? reply.status, what)
      }
      return reply.results.slice(1).map((result) => result.value)
    } finally {
      this.#releaseSlot(slot)
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    try {
      await sessionless(this.#connection, [ops.destroySession(this.#sessionId)], 'DESTROY_SESSION').catch(() => undefined)
      await sessionless(this.#connection, [ops.destroyClientId(this.clientId)], 'DESTROY_CLIENTID').catch(() => undefined)
    } finally {
      await this.#connection.close()
    }
  }
}

/** SEQUENCE without reply caching (sa_cachethis false), telling the server every slot is in use. */
function sequence(sessionId: Buffer, sequenceId: number, slot: number, highestSlot: number): OpSpec {
  return {
    opnum: op.SEQUENCE,
    encode: (w) => w.opaqueFixed(sessionId).u32(sequenceId).u32(slot).u32(highestSlot).bool(false),
    // sessionid, sequenceid, slotid, highest_slotid, target_highest_slotid, status_flags: skipped.
    decode: (r) => r.opaqueFixed(16 + 5 * 4),
  }
}

function encodeCompound(specs: readonly OpSpec[]): XdrWriter {
  const args = new XdrWriter().string('').u32(1).u32(specs.length)
  for (const spec of specs) {
    args.u32(spec.opnum)
    spec.encode(args)
  }
  return args
}

async function sessionless(connection: RpcConnection, specs: readonly OpSpec[], what: string): Promise<unknown[]> {
  const reply = decodeCompound(await connection.compound(encodeCompound(specs)), specs)
  if (reply.status !== status.OK) {
    const failed = reply.results.at(-1)
    throw new CompoundError(failed?.opnum ?? -1, failed?.status ?? reply.status, what)
  }
  return reply.results.map((result) => result.value)
}

/** CREATE_SESSION for a fore channel that carries 1 MiB READ/WRITE, no back channel use. */
function createSession(clientId: bigint, sequence: number, slots: number): OpSpec<{ sessionId: Buffer; limits: SessionLimits }> {
  return {
    opnum: op.CREATE_SESSION,
    encode: (w) => {
      w.u64(clientId).u32(sequence).u32(0) // csa_flags: no persist, no back channel on this connection
      // fore: headerpadsize, maxrequestsize, maxresponsesize, maxresponsesize_cached, maxoperations, maxrequests, rdma_ird<>
      w.u32(0).u32(requestMaxBytes).u32(requestMaxBytes).u32(4096).u32(16).u32(slots).u32(0)
      w.u32(0).u32(4096).u32(4096).u32(0).u32(2).u32(1).u32(0) // back channel (unused)
      w.u32(0x40000000).u32(1).u32(0) // cb_program, one callback security flavor: AUTH_NONE
    },
    decode: (r) => {
      const sessionId = Buffer.from(r.opaqueFixed(16))
      r.u32() // sequence
      r.u32() // flags
      r.u32() // headerpadsize
      const maxRequestBytes = r.u32()
      const maxResponseBytes = r.u32()
      r.u32() // maxresponsesize_cached
      r.u32() // maxoperations
      const grantedSlots = r.u32()
      r.array(1, (item) => item.u32())
      for (let index = 0; index < 6; index += 1) r.u32()
      r.array(1, (item) => item.u32())
      return { sessionId, limits: { slots: Math.max(1, Math.min(slots, grantedSlots)), maxRequestBytes, maxResponseBytes } }
    },
  }
}

// ---- operations with skimmed results ------------------------------------------------------------

/** What the Linux client asks in GETATTR after OPEN and for stat(2) (nfs4_fattr_bitmap). */
export const statAttributes = [
  attr.TYPE, attr.CHANGE, attr.SIZE, attr.FSID, attr.FILEID, attr.MODE, attr.NUMLINKS, attr.OWNER, attr.OWNER_GROUP,
  attr.RAWDEV, attr.SPACE_USED, attr.TIME_ACCESS, attr.TIME_METADATA, attr.TIME_MODIFY, attr.MOUNTED_ON_FILEID,
]
/** What it asks in READDIR for `ls -l` (the stat set plus the entry's handle and rdattr_error). */
export const readdirAttributes = [...statAttributes, attr.RDATTR_ERROR, attr.FILEHANDLE]

function bitmapWords(bits: readonly number[]): number[] {
  const words: number[] = []
  for (const bit of bits) {
    while (words.length <= bit >>> 5) words.push(0)
    words[bit >>> 5] = ((words[bit >>> 5] as number) | (1 << (bit & 31))) >>> 0
  }
  return words
}

/** Skip a fattr4; returns the length of its values. */
function skipFattr(reader: XdrReader): number {
  reader.array(8, (item) => item.u32())
  return reader.opaque(64 * 1024).length
}

export const benchOps = {
  /** GETATTR whose result is only measured (values bytes), not decoded. */
  getattr(bits: readonly number[]): OpSpec<number> {
    const words = bitmapWords(bits)
    return { opnum: op.GETATTR, encode: (w) => w.array(words, (item, word) => item.u32(word)), decode: skipFattr }
  },
  /** READ returning only the byte count (the data stays a view of the reply record). */
  read(stateid: Stateid, offset: number, count: number): OpSpec<{ eof: boolean; bytes: number }> {
    return {
      opnum: op.READ,
      encode: (w) => w.u32(stateid.seqid).opaqueFixed(stateid.other).u64(offset).u32(count),
      decode: (r) => ({ eof: r.bool(), bytes: r.opaque(1 << 22).length }),
    }
  },
  /** READDIR returning entry count, last cookie and eof; attributes skipped. */
  readdir(cookie: bigint, verifier: Buffer, dirCountBytes: number, maxCountBytes: number, bits: readonly number[]): OpSpec<{ verifier: Buffer; entries: number; lastCookie: bigint; eof: boolean }> {
    const words = bitmapWords(bits)
    return {
      opnum: op.READDIR,
      encode: (w) => {
        w.u64(cookie).opaqueFixed(verifier).u32(dirCountBytes).u32(maxCountBytes)
        w.array(words, (item, word) => item.u32(word))
      },
      decode: (r) => {
        const cookieVerifier = Buffer.from(r.opaqueFixed(8))
        let entries = 0
        let lastCookie = cookie
        while (r.bool()) {
          lastCookie = r.u64()
          r.opaque(255)
          skipFattr(r)
          entries += 1
        }
        return { verifier: cookieVerifier, entries, lastCookie, eof: r.bool() }
      },
    }
  },
}

// A small NFSv4 client for tests: builds COMPOUNDs from operation specs, sends them over
// RpcTestClient, decodes each result. 4.1 compounds get SEQUENCE prepended automatically once a
// session exists. Decoders are written from the RFC XDR independently of the server's encoders.
import { XdrReader, XdrWriter } from '../xdr.ts'
import { acceptStat } from '../rpc-message.ts'
import { attr, compoundProcedure, nfsProgram, nfsVersion4, op, status } from '../v4/constants.ts'
import { RpcTestClient } from './rpc-client.ts'

export interface OpSpec<T = unknown> {
  readonly opnum: number
  readonly encode: (writer: XdrWriter) => void
  /** Decodes the result body after the status (called for OK, and for `alsoOn` statuses). */
  readonly decode?: (reader: XdrReader, status: number) => T
  readonly alsoOn?: readonly number[]
}

export interface OpOutcome {
  readonly opnum: number
  readonly status: number
  readonly value: unknown
}

export interface CompoundReply {
  readonly status: number
  readonly tag: string
  readonly results: OpOutcome[]
}

export interface Stateid {
  readonly seqid: number
  readonly other: Buffer
}

const none = (): void => {}
const readStateid = (reader: XdrReader): Stateid => ({ seqid: reader.u32(), other: Buffer.from(reader.opaqueFixed(12)) })
const writeStateid = (writer: XdrWriter, stateid: Stateid): void => {
  writer.u32(stateid.seqid).opaqueFixed(stateid.other)
}
const readBitmap = (reader: XdrReader): number[] => reader.array(8, (item) => item.u32())
const writeBitmap = (writer: XdrWriter, bits: readonly number[]): void => {
  const words: number[] = []
  for (const bit of bits) {
    while (words.length <= bit >>> 5) words.push(0)
    words[bit >>> 5] = ((words[bit >>> 5] as number) | (1 << (bit & 31))) >>> 0
  }
  writer.array(words, (item, word) => item.u32(word))
}
const readChangeInfo = (reader: XdrReader) => ({ atomic: reader.bool(), before: reader.u64(), after: reader.u64() })

export interface SettableAttributes {
  size?: number
  mode?: number
  owner?: string
  group?: string
  mtime?: { seconds: number; nanoseconds: number } | 'now'
}

export function encodeFattr(writer: XdrWriter, attributes: SettableAttributes): void {
  const bits: number[] = []
  const values = new XdrWriter()
  if (attributes.size !== undefined) {
    bits.push(attr.SIZE)
    values.u64(attributes.size)
  }
  if (attributes.mode !== undefined) {
    bits.push(attr.MODE)
    values.u32(attributes.mode)
  }
  if (attributes.owner !== undefined) {
    bits.push(attr.OWNER)
    values.string(attributes.owner)
  }
  if (attributes.group !== undefined) {
    bits.push(attr.OWNER_GROUP)
    values.string(attributes.group)
  }
  if (attributes.mtime !== undefined) {
    bits.push(attr.TIME_MODIFY_SET)
    if (attributes.mtime === 'now') values.u32(0)
    else values.u32(1).i64(attributes.mtime.seconds).u32(attributes.mtime.nanoseconds)
  }
  writeBitmap(writer, bits)
  writer.opaque(values.toBuffer())
}

export type DecodedAttributes = Record<string, unknown> & { bitmap: number[] }

const readTime = (reader: XdrReader) => ({ seconds: Number(reader.i64()), nanoseconds: reader.u32() })

/** Decode a fattr4 with the attributes this server can return. */
export function decodeFattr(reader: XdrReader): DecodedAttributes {
  const bitmap = readBitmap(reader)
  const values = new XdrReader(Buffer.from(reader.opaque(1 << 20)))
  const out: DecodedAttributes = { bitmap }
  for (let word = 0; word < bitmap.length; word += 1) {
    for (let bit = 0; bit < 32; bit += 1) {
      if ((((bitmap[word] as number) >>> bit) & 1) === 0) continue
      const number = word * 32 + bit
      decodeOne(values, number, out)
    }
  }
  values.expectEnd('attribute values')
  return out
}

function decodeOne(values: XdrReader, number: number, out: DecodedAttributes): void {
  const u64 = () => values.u64()
  const table: Record<number, [string, () => unknown]> = {
    [attr.SUPPORTED_ATTRS]: ['supported', () => readBitmap(values)], [attr.TYPE]: ['type', () => values.u32()],
    [attr.FH_EXPIRE_TYPE]: ['fhExpireType', () => values.u32()], [attr.CHANGE]: ['change', u64], [attr.SIZE]: ['size', u64],
    [attr.LINK_SUPPORT]: ['linkSupport', () => values.bool()], [attr.SYMLINK_SUPPORT]: ['symlinkSupport', () => values.bool()],
    [attr.NAMED_ATTR]: ['namedAttr', () => values.bool()], [attr.FSID]: ['fsid', () => [values.u64(), values.u64()]],
    [attr.UNIQUE_HANDLES]: ['uniqueHandles', () => values.bool()], [attr.LEASE_TIME]: ['leaseTime', () => values.u32()],
    [attr.RDATTR_ERROR]: ['rdattrError', () => values.u32()], [attr.ACLSUPPORT]: ['aclSupport', () => values.u32()],
    [attr.CANSETTIME]: ['canSetTime', () => values.bool()], [attr.CASE_INSENSITIVE]: ['caseInsensitive', () => values.bool()],
    [attr.CASE_PRESERVING]: ['casePreserving', () => values.bool()], [attr.CHOWN_RESTRICTED]: ['chownRestricted', () => values.bool()],
    [attr.FILEHANDLE]: ['filehandle', () => Buffer.from(values.opaque(128))], [attr.FILEID]: ['fileid', u64],
    [attr.FILES_AVAIL]: ['filesAvail', u64], [attr.FILES_FREE]: ['filesFree', u64], [attr.FILES_TOTAL]: ['filesTotal', u64],
    [attr.HOMOGENEOUS]: ['homogeneous', () => values.bool()], [attr.MAXFILESIZE]: ['maxFileSize', u64],
    [attr.MAXLINK]: ['maxLink', () => values.u32()], [attr.MAXNAME]: ['maxName', () => values.u32()],
    [attr.MAXREAD]: ['maxRead', u64], [attr.MAXWRITE]: ['maxWrite', u64], [attr.MODE]: ['mode', () => values.u32()],
    [attr.NO_TRUNC]: ['noTrunc', () => values.bool()], [attr.NUMLINKS]: ['numlinks', () => values.u32()],
    [attr.OWNER]: ['owner', () => values.string(1024)], [attr.OWNER_GROUP]: ['group', () => values.string(1024)],
    [attr.RAWDEV]: ['rawdev', () => [values.u32(), values.u32()]], [attr.SPACE_AVAIL]: ['spaceAvail', u64],
    [attr.SPACE_FREE]: ['spaceFree', u64], [attr.SPACE_TOTAL]: ['spaceTotal', u64], [attr.SPACE_USED]: ['spaceUsed', u64],
    [attr.TIME_ACCESS]: ['atime', () => readTime(values)], [attr.TIME_CREATE]: ['btime', () => readTime(values)],
    [attr.TIME_DELTA]: ['timeDelta', () => readTime(values)], [attr.TIME_METADATA]: ['ctime', () => readTime(values)],
    [attr.TIME_MODIFY]: ['mtime', () => readTime(values)], [attr.MOUNTED_ON_FILEID]: ['mountedOnFileid', u64],
    [attr.SUPPATTR_EXCLCREAT]: ['suppattrExclcreat', () => readBitmap(values)],
  }
  const entry = table[number]
  if (entry === undefined) throw new Error(`test client cannot decode attribute ${number}`)
  out[entry[0]] = entry[1]()
}

export type CreateHow =
  | { mode: 'unchecked' | 'guarded'; attributes?: SettableAttributes }
  | { mode: 'exclusive'; verifier: Buffer }
  | { mode: 'exclusive41'; verifier: Buffer; attributes?: SettableAttributes }

export type OpenClaim = { type: 'null'; name: string } | { type: 'fh' } | { type: 'previous' }

export interface OpenOptions {
  seqid?: number
  access?: number
  deny?: number
  clientId: bigint
  owner: Buffer
  create?: CreateHow
  claim: OpenClaim
}

export type Locker =
  | { newOwner: true; openSeqid: number; openStateid: Stateid; lockSeqid: number; clientId: bigint; owner: Buffer }
  | { newOwner: false; lockStateid: Stateid; lockSeqid: number }

const readDenied = (reader: XdrReader) => ({ offset: reader.u64(), length: reader.u64(), type: reader.u32(), clientId: reader.u64(), owner: Buffer.from(reader.opaque(1024)) })

/** Operation builders. */
export const ops = {
  putrootfh: (): OpSpec => ({ opnum: op.PUTROOTFH, encode: none }),
  putpubfh: (): OpSpec => ({ opnum: op.PUTPUBFH, encode: none }),
  putfh: (fh: Buffer): OpSpec => ({ opnum: op.PUTFH, encode: (w) => w.opaque(fh) }),
  getfh: (): OpSpec<Buffer> => ({ opnum: op.GETFH, encode: none, decode: (r) => Buffer.from(r.opaque(128)) }),
  savefh: (): OpSpec => ({ opnum: op.SAVEFH, encode: none }),
  restorefh: (): OpSpec => ({ opnum: op.RESTOREFH, encode: none }),
  lookup: (name: string): OpSpec => ({ opnum: op.LOOKUP, encode: (w) => w.string(name) }),
  lookupp: (): OpSpec => ({ opnum: op.LOOKUPP, encode: none }),
  getattr: (bits: readonly number[]): OpSpec<DecodedAttributes> => ({ opnum: op.GETATTR, encode: (w) => writeBitmap(w, bits), decode: decodeFattr }),
  access: (mask: number): OpSpec<{ supported: number; access: number }> => ({ opnum: op.ACCESS, encode: (w) => w.u32(mask), decode: (r) => ({ supported: r.u32(), access: r.u32() }) }),
  setattr: (stateid: Stateid, attributes: SettableAttributes): OpSpec<number[]> => ({
    opnum: op.SETATTR, encode: (w) => { writeStateid(w, stateid); encodeFattr(w, attributes) }, decode: readBitmap, alsoOn: Object.values(status).filter((s) => s !== 0),
  }),
  verify: (bits: readonly number[], values: Buffer, negated = false): OpSpec => ({
    opnum: negated ? op.NVERIFY : op.VERIFY, encode: (w) => { writeBitmap(w, bits); w.opaque(values) },
  }),
  mkdir: (name: string, mode = 0o755): OpSpec => ({
    opnum: op.CREATE, encode: (w) => { w.u32(2).string(name); encodeFattr(w, { mode }) }, decode: (r) => ({ cinfo: readChangeInfo(r), attrset: readBitmap(r) }),
  }),
  symlink: (name: string, target: string): OpSpec => ({
    opnum: op.CREATE, encode: (w) => { w.u32(5).string(target).string(name); encodeFattr(w, {}) }, decode: (r) => ({ cinfo: readChangeInfo(r), attrset: readBitmap(r) }),
  }),
  createType: (type: number, name: string): OpSpec => ({ opnum: op.CREATE, encode: (w) => { w.u32(type); if (type === 3 || type === 4) w.u32(0).u32(0); w.string(name); encodeFattr(w, {}) } }),
  remove: (name: string): OpSpec => ({ opnum: op.REMOVE, encode: (w) => w.string(name), decode: readChangeInfo }),
  rename: (from: string, to: string): OpSpec => ({ opnum: op.RENAME, encode: (w) => w.string(from).string(to), decode: (r) => [readChangeInfo(r), readChangeInfo(r)] }),
  link: (name: string): OpSpec => ({ opnum: op.LINK, encode: (w) => w.string(name), decode: readChangeInfo }),
  readlink: (): OpSpec<string> => ({ opnum: op.READLINK, encode: none, decode: (r) => r.string(4096) }),
  readdir: (cookie: bigint, verifier: Buffer, maxcount: number, bits: readonly number[]): OpSpec<{ verifier: Buffer; entries: Array<{ cookie: bigint; name: string; attributes: DecodedAttributes }>; eof: boolean }> => ({
    opnum: op.READDIR,
    encode: (w) => { w.u64(cookie).opaqueFixed(verifier).u32(maxcount).u32(maxcount); writeBitmap(w, bits) },
    decode: (r) => {
      const cookieVerifier = Buffer.from(r.opaqueFixed(8))
      const entries: Array<{ cookie: bigint; name: string; attributes: DecodedAttributes }> = []
      while (r.bool()) entries.push({ cookie: r.u64(), name: r.string(255), attributes: decodeFattr(r) })
      return { verifier: cookieVerifier, entries, eof: r.bool() }
    },
  }),
  open: (options: OpenOptions): OpSpec<{ stateid: Stateid; cinfo: unknown; rflags: number; attrset: number[]; delegation: number }> => ({
    opnum: op.OPEN, encode: (w) => encodeOpen(w, options),
    decode: (r) => {
      const stateid = readStateid(r)
      const cinfo = readChangeInfo(r)
      const rflags = r.u32()
      const attrset = readBitmap(r)
      const delegation = r.u32()
      if (delegation === 3) { const why = r.u32(); if (why === 1 || why === 2) r.bool() }
      return { stateid, cinfo, rflags, attrset, delegation }
    },
  }),
  openConfirm: (stateid: Stateid, seqid: number): OpSpec<Stateid> => ({ opnum: op.OPEN_CONFIRM, encode: (w) => { writeStateid(w, stateid); w.u32(seqid) }, decode: readStateid }),
  openDowngrade: (stateid: Stateid, seqid: number, access: number, deny: number): OpSpec<Stateid> => ({
    opnum: op.OPEN_DOWNGRADE, encode: (w) => { writeStateid(w, stateid); w.u32(seqid).u32(access).u32(deny) }, decode: readStateid,
  }),
  close: (seqid: number, stateid: Stateid): OpSpec<Stateid> => ({ opnum: op.CLOSE, encode: (w) => { w.u32(seqid); writeStateid(w, stateid) }, decode: readStateid }),
  read: (stateid: Stateid, offset: number, count: number): OpSpec<{ eof: boolean; data: Buffer }> => ({
    opnum: op.READ, encode: (w) => { writeStateid(w, stateid); w.u64(offset).u32(count) }, decode: (r) => ({ eof: r.bool(), data: Buffer.from(r.opaque(1 << 21)) }),
  }),
  write: (stateid: Stateid, offset: number, data: Buffer, stable = 2): OpSpec<{ count: number; committed: number; verifier: Buffer }> => ({
    opnum: op.WRITE, encode: (w) => { writeStateid(w, stateid); w.u64(offset).u32(stable).opaque(data) },
    decode: (r) => ({ count: r.u32(), committed: r.u32(), verifier: Buffer.from(r.opaqueFixed(8)) }),
  }),
  commit: (): OpSpec<Buffer> => ({ opnum: op.COMMIT, encode: (w) => w.u64(0).u32(0), decode: (r) => Buffer.from(r.opaqueFixed(8)) }),
  lock: (type: number, offset: bigint, length: bigint, locker: Locker, reclaim = false): OpSpec<Stateid | ReturnType<typeof readDenied>> => ({
    opnum: op.LOCK, alsoOn: [status.DENIED],
    encode: (w) => {
      w.u32(type).bool(reclaim).u64(offset).u64(length).bool(locker.newOwner)
      if (locker.newOwner) {
        w.u32(locker.openSeqid); writeStateid(w, locker.openStateid); w.u32(locker.lockSeqid).u64(locker.clientId).opaque(locker.owner)
      } else {
        writeStateid(w, locker.lockStateid); w.u32(locker.lockSeqid)
      }
    },
    decode: (r, opStatus) => (opStatus === status.DENIED ? readDenied(r) : readStateid(r)),
  }),
  lockt: (type: number, offset: bigint, length: bigint, clientId: bigint, owner: Buffer): OpSpec => ({
    opnum: op.LOCKT, alsoOn: [status.DENIED], encode: (w) => w.u32(type).u64(offset).u64(length).u64(clientId).opaque(owner),
    decode: (r, opStatus) => (opStatus === status.DENIED ? readDenied(r) : undefined),
  }),
  locku: (type: number, seqid: number, stateid: Stateid, offset: bigint, length: bigint): OpSpec<Stateid> => ({
    opnum: op.LOCKU, encode: (w) => { w.u32(type).u32(seqid); writeStateid(w, stateid); w.u64(offset).u64(length) }, decode: readStateid,
  }),
  releaseLockowner: (clientId: bigint, owner: Buffer): OpSpec => ({ opnum: op.RELEASE_LOCKOWNER, encode: (w) => w.u64(clientId).opaque(owner) }),
  setclientid: (verifier: Buffer, id: Buffer): OpSpec<{ clientId: bigint; confirm: Buffer }> => ({
    opnum: op.SETCLIENTID, encode: (w) => w.opaqueFixed(verifier).opaque(id).u32(0x40000000).string('tcp').string('127.0.0.1.0.0').u32(1),
    decode: (r) => ({ clientId: r.u64(), confirm: Buffer.from(r.opaqueFixed(8)) }),
  }),
  setclientidConfirm: (clientId: bigint, confirm: Buffer): OpSpec => ({ opnum: op.SETCLIENTID_CONFIRM, encode: (w) => w.u64(clientId).opaqueFixed(confirm) }),
  renew: (clientId: bigint): OpSpec => ({ opnum: op.RENEW, encode: (w) => w.u64(clientId) }),
  secinfo: (name: string): OpSpec<number[]> => ({ opnum: op.SECINFO, encode: (w) => w.string(name), decode: (r) => r.array(8, (i) => i.u32()) }),
  secinfoNoName: (style = 0): OpSpec<number[]> => ({ opnum: op.SECINFO_NO_NAME, encode: (w) => w.u32(style), decode: (r) => r.array(8, (i) => i.u32()) }),
  exchangeId: (verifier: Buffer, owner: Buffer, flags = 0): OpSpec<{ clientId: bigint; sequenceId: number; flags: number }> => ({
    opnum: op.EXCHANGE_ID, encode: (w) => w.opaqueFixed(verifier).opaque(owner).u32(flags).u32(0).u32(0),
    decode: (r) => {
      const result = { clientId: r.u64(), sequenceId: r.u32(), flags: r.u32() }
      r.u32(); r.u64(); r.opaque(1024); r.opaque(1024)
      r.array(1, (i) => { i.string(1024); i.string(1024); i.i64(); i.u32() })
      return result
    },
  }),
  createSession: (clientId: bigint, sequence: number, slots = 8, maxOperations = 16): OpSpec<{ sessionId: Buffer; sequence: number; flags: number; slots: number; maxOperations: number; cachedBytes: number }> => ({
    opnum: op.CREATE_SESSION,
    encode: (w) => {
      w.u64(clientId).u32(sequence).u32(0)
      w.u32(0).u32(1 << 20).u32(1 << 20).u32(4096).u32(maxOperations).u32(slots).u32(0)
      w.u32(0).u32(4096).u32(4096).u32(0).u32(2).u32(1).u32(0)
      w.u32(0x40000000).u32(1).u32(0)
    },
    decode: (r) => {
      const sessionId = Buffer.from(r.opaqueFixed(16))
      const seq = r.u32()
      const flags = r.u32()
      r.u32(); r.u32(); r.u32()
      const cachedBytes = r.u32()
      const ops = r.u32()
      const count = r.u32()
      r.array(1, (i) => i.u32())
      for (let index = 0; index < 6; index += 1) r.u32()
      r.array(1, (i) => i.u32())
      return { sessionId, sequence: seq, flags, slots: count, maxOperations: ops, cachedBytes }
    },
  }),
  sequence: (sessionId: Buffer, sequenceId: number, slot: number, cacheThis = true): OpSpec => ({
    opnum: op.SEQUENCE, encode: (w) => w.opaqueFixed(sessionId).u32(sequenceId).u32(slot).u32(slot).bool(cacheThis),
    decode: (r) => ({ sessionId: Buffer.from(r.opaqueFixed(16)), sequenceId: r.u32(), slot: r.u32(), highest: r.u32(), target: r.u32(), flags: r.u32() }),
  }),
  destroySession: (sessionId: Buffer): OpSpec => ({ opnum: op.DESTROY_SESSION, encode: (w) => w.opaqueFixed(sessionId) }),
  destroyClientId: (clientId: bigint): OpSpec => ({ opnum: op.DESTROY_CLIENTID, encode: (w) => w.u64(clientId) }),
  reclaimComplete: (oneFs = false): OpSpec => ({ opnum: op.RECLAIM_COMPLETE, encode: (w) => w.bool(oneFs) }),
  testStateid: (stateids: Stateid[]): OpSpec<number[]> => ({ opnum: op.TEST_STATEID, encode: (w) => w.array(stateids, writeStateid), decode: (r) => r.array(64, (i) => i.u32()) }),
  freeStateid: (stateid: Stateid): OpSpec => ({ opnum: op.FREE_STATEID, encode: (w) => writeStateid(w, stateid) }),
  raw: (opnum: number, bytes: Buffer = Buffer.alloc(0)): OpSpec => ({ opnum, encode: (w) => w.opaqueFixed(bytes) }),
}

function encodeOpen(w: XdrWriter, options: OpenOptions): void {
  w.u32(options.seqid ?? 0).u32(options.access ?? 3).u32(options.deny ?? 0).u64(options.clientId).opaque(options.owner)
  const create = options.create
  if (create === undefined) w.u32(0)
  else if (create.mode === 'exclusive') w.u32(1).u32(2).opaqueFixed(create.verifier)
  else if (create.mode === 'exclusive41') {
    w.u32(1).u32(3).opaqueFixed(create.verifier)
    encodeFattr(w, create.attributes ?? {})
  } else {
    w.u32(1).u32(create.mode === 'guarded' ? 1 : 0)
    encodeFattr(w, create.attributes ?? {})
  }
  const claim = options.claim
  if (claim.type === 'null') w.u32(0).string(claim.name)
  else if (claim.type === 'fh') w.u32(4)
  else w.u32(1).u32(0)
}

export class NfsTestClient {
  readonly rpc: RpcTestClient
  readonly minorVersion: number
  session: { id: Buffer; sequences: number[] } | undefined
  clientId = 0n

  private constructor(rpc: RpcTestClient, minorVersion: number) {
    this.rpc = rpc
    this.minorVersion = minorVersion
  }

  static async connect(port: number, minorVersion = 0): Promise<NfsTestClient> {
    return new NfsTestClient(await RpcTestClient.connect(port), minorVersion)
  }

  /** Send one COMPOUND; 4.1 clients with a session get SEQUENCE on slot 0 first. */
  async compound(specs: readonly OpSpec[], options: { minorVersion?: number; tag?: string; slot?: number; noSequence?: boolean } = {}): Promise<CompoundReply> {
    let list = specs
    if (this.session !== undefined && !options.noSequence) {
      const slot = options.slot ?? 0
      const sequences = this.session.sequences
      sequences[slot] = (sequences[slot] ?? 0) + 1
      list = [ops.sequence(this.session.id, sequences[slot] as number, slot), ...specs]
    }
    return this.send(list, options.minorVersion ?? this.minorVersion, options.tag ?? 'test')
  }

  async send(specs: readonly OpSpec[], minorVersion: number, tag: string): Promise<CompoundReply> {
    const args = new XdrWriter().string(tag).u32(minorVersion).u32(specs.length)
    for (const spec of specs) {
      args.u32(spec.opnum)
      spec.encode(args)
    }
    const reply = await this.rpc.call(nfsProgram, nfsVersion4, compoundProcedure, args)
    if (reply.kind !== 'accepted' || reply.stat !== acceptStat.success) throw new Error(`RPC failed: ${JSON.stringify(reply)}`)
    return decodeCompound(reply.results, specs)
  }

  /** The value of the op at `index`, throwing unless the compound succeeded. */
  async ok(specs: readonly OpSpec[]): Promise<unknown[]> {
    const reply = await this.compound(specs)
    if (reply.status !== status.OK) throw new Error(`COMPOUND failed with ${reply.status} at op ${reply.results.at(-1)?.opnum}`)
    return reply.results.slice(this.session === undefined ? 0 : 1).map((result) => result.value)
  }

  /** SETCLIENTID + SETCLIENTID_CONFIRM (4.0) or EXCHANGE_ID + CREATE_SESSION (4.1). */
  async establish(name = 'test-client', verifier = Buffer.from('verifier')): Promise<bigint> {
    if (this.minorVersion === 0) {
      const [set] = await this.ok([ops.setclientid(verifier, Buffer.from(name))]) as [{ clientId: bigint; confirm: Buffer }]
      await this.ok([ops.setclientidConfirm(set.clientId, set.confirm)])
      this.clientId = set.clientId
      return set.clientId
    }
    const [exchange] = await this.ok([ops.exchangeId(verifier, Buffer.from(name))]) as [{ clientId: bigint; sequenceId: number }]
    const [session] = await this.ok([ops.createSession(exchange.clientId, exchange.sequenceId)]) as [{ sessionId: Buffer; slots: number }]
    this.session = { id: session.sessionId, sequences: [] }
    this.clientId = exchange.clientId
    await this.ok([ops.reclaimComplete()])
    return exchange.clientId
  }

  async close(): Promise<void> {
    await this.rpc.close()
  }
}

export function decodeCompound(reader: XdrReader, specs: readonly OpSpec[]): CompoundReply {
  const compoundStatus = reader.u32()
  const tag = reader.string(1024)
  const count = reader.u32()
  const results: OpOutcome[] = []
  for (let index = 0; index < count; index += 1) {
    const opnum = reader.u32()
    const opStatus = reader.u32()
    const spec = specs[index]
    let value: unknown
    if (spec !== undefined && spec.opnum === opnum && spec.decode !== undefined && (opStatus === status.OK || spec.alsoOn?.includes(opStatus))) {
      value = spec.decode(reader, opStatus)
    }
    results.push({ opnum, status: opStatus, value })
  }
  return { status: compoundStatus, tag, results }
}

// What every NFSv4 operation works with: the server's shared parts (files, state, clock), and one
// COMPOUND's context (current and saved filehandles, the caller, the session), plus the small
// argument readers and checks operations share.
//
// Export policy is applied here: allowed clients when a file system's object becomes current
// (NFS4ERR_ACCESS), root squash when the caller is computed, read-only in requireWritable
// (NFS4ERR_ROFS). Names are checked at this edge: UTF-8, 1..255 bytes, no '/' or NUL, not '.'/'..'.
import { BlockList, isIP } from 'node:net'
import { nfsLimits, type Clock, type Random } from '../../lib/index.ts'
import type { Caller, ExportPolicy, FileAttributes, FileHandle, FileService, FileSystemInfo } from '../../files/api.ts'
import type { NfsLogger } from '../log.ts'
import type { RpcConnection, RpcCredential } from '../rpc.ts'
import type { XdrReader, XdrWriter } from '../xdr.ts'
import { stateidOtherBytes, status, type NfsStatus } from './constants.ts'
import { nfsError } from './errors.ts'
import { encodeHandle } from './handles.ts'
import { needsUsage, type AttributeSubject, type Bitmap, type ServerAttributeFacts } from './attributes.ts'
import type { Session, Slot } from './sessions.ts'
import type { StateManager, Stateid } from './state.ts'
import type { GracePeriod } from './grace.ts'

export interface NfsServerContext {
  readonly files: FileService
  readonly state: StateManager
  readonly logger: NfsLogger
  readonly clock: Clock
  readonly random: Random
  readonly startedMs: number
  /** Non-reclaim OPEN/LOCK answer NFS4ERR_GRACE while it lasts; it decides who may reclaim. */
  readonly grace: GracePeriod
  readonly leaseSeconds: number
  /** EXCHANGE_ID server_owner major id and server_scope. */
  readonly serverOwner: Buffer
}

export type CurrentObject =
  | { readonly kind: 'pseudo-root' }
  | { readonly kind: 'file'; readonly handle: FileHandle; readonly fs: FileSystemInfo }

export type FileObject = Extract<CurrentObject, { kind: 'file' }>

export interface OpResult {
  readonly status: NfsStatus
  /** Encoded after the status (the resok, or an error's own body such as LOCK4denied). */
  readonly body?: XdrWriter
}

export const ok = (body?: XdrWriter): OpResult => ({ status: status.OK, body })

export const pseudoFsid = { major: 0n, minor: 1n }
export const pseudoRootFileId = 1

export class CompoundContext {
  readonly server: NfsServerContext
  readonly minorVersion: number
  readonly credential: RpcCredential
  readonly connection: RpcConnection
  readonly signal: AbortSignal
  current: CurrentObject | undefined
  saved: CurrentObject | undefined
  /** 4.1 current stateid (set by OPEN, LOCK...; used for the special stateid seqid 1). */
  currentStateid: Stateid | undefined
  savedStateid: Stateid | undefined
  session: Session | undefined
  slot: Slot | undefined
  cacheThis = false
  /** Operations in this COMPOUND (SEQUENCE checks it against the session's limit). */
  opCount = 0

  constructor(server: NfsServerContext, minorVersion: number, credential: RpcCredential, connection: RpcConnection, signal: AbortSignal) {
    this.server = server
    this.minorVersion = minorVersion
    this.credential = credential
    this.connection = connection
    this.signal = signal
  }

  get facts(): ServerAttributeFacts {
    return { minorVersion: this.minorVersion, leaseSeconds: this.server.leaseSeconds, maxFileSizeBytes: this.server.files.maxFileSizeBytes }
  }

  requireCurrent(): CurrentObject {
    return this.current ?? nfsError(status.NOFILEHANDLE, 'no current filehandle')
  }

  /** The current object as a file-system object; the pseudo root answers `pseudoStatus`. */
  requireFile(pseudoStatus: NfsStatus = status.INVAL): FileObject {
    const current = this.requireCurrent()
    if (current.kind === 'pseudo-root') return nfsError(pseudoStatus, 'not valid on the pseudo root')
    return current
  }

  /** The caller after the file system's root squash (AUTH_NONE is anonymous). */
  callerFor(fs: FileSystemInfo | undefined): Caller {
    const policy = fs?.exportPolicy
    const anonymous: Caller = { uid: policy?.anonymousUid ?? 65534, gid: policy?.anonymousGid ?? 65534, gids: [] }
    const credential = this.credential
    if (credential.flavor === 'none') return anonymous
    if (credential.uid === 0 && policy?.rootSquash) return anonymous
    return { uid: credential.uid, gid: credential.gid, gids: credential.gids }
  }

  requireWritable(object: CurrentObject): void {
    if (object.kind === 'pseudo-root' || object.fs.exportPolicy.readOnly) nfsError(status.ROFS, 'read-only export')
  }

  /** Make a file-system object current, after checking the client may use that file system. */
  enter(handle: FileHandle, fs: FileSystemInfo): FileObject {
    if (!clientAllowed(fs.exportPolicy, this.connection.remoteAddress)) nfsError(status.ACCESS, 'client not allowed by the export policy')
    return { kind: 'file', handle, fs }
  }

  /** Everything the attribute encoder needs for an object. */
  async subject(object: CurrentObject, requested: Bitmap): Promise<AttributeSubject> {
    if (object.kind === 'pseudo-root') return this.#pseudoSubject(requested)
    const attributes = await this.server.files.getAttributes(object.handle, this.signal)
    const isRoot = object.handle.equals(object.fs.rootHandle)
    return {
      attributes,
      handle: encodeHandle(object),
      fsid: { major: BigInt(object.fs.number), minor: 0n },
      mountedOnFileId: isRoot ? pseudoFileIdOf(object.fs) : attributes.fileId,
      usage: needsUsage(requested) ? await this.server.files.usage(object.handle, this.signal) : undefined,
    }
  }

  async #pseudoSubject(requested: Bitmap): Promise<AttributeSubject> {
    const started = { seconds: Math.floor(this.server.startedMs / 1000), nanoseconds: 0 }
    const attributes: FileAttributes = {
      type: 'directory', mode: 0o555, nlink: 2, uid: 0, gid: 0, sizeBytes: 4096, spaceUsedBytes: 4096,
      fileId: pseudoRootFileId, change: BigInt(this.server.startedMs), accessTime: started, modifyTime: started,
      changeTime: started, createTime: started,
    }
    const usage = needsUsage(requested) ? { totalBytes: 0, freeBytes: 0, availableBytes: 0, totalFiles: 0, freeFiles: 0, availableFiles: 0 } : undefined
    return { attributes, handle: encodeHandle({ kind: 'pseudo-root' }), fsid: pseudoFsid, mountedOnFileId: pseudoRootFileId, usage }
  }
}

/** The fileid an export's root has in the pseudo file system. */
export const pseudoFileIdOf = (fs: FileSystemInfo): number => pseudoRootFileId + fs.number

const blockLists = new WeakMap<readonly string[], BlockList>()

export function clientAllowed(policy: ExportPolicy, address: string): boolean {
  if (policy.allowedClients.length === 0) return true
  let list = blockLists.get(policy.allowedClients)
  if (list === undefined) {
    list = new BlockList()
    for (const rule of policy.allowedClients) {
      const [network, prefix] = rule.split('/')
      const family = isIP(network ?? '') === 6 ? 'ipv6' : 'ipv4'
      if (isIP(network ?? '') === 0) continue
      if (prefix === undefined) list.addAddress(network as string, family)
      else list.addSubnet(network as string, Number(prefix), family)
    }
    blockLists.set(policy.allowedClients, list)
  }
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4'
  return isIP(address) !== 0 && list.check(address, family)
}

/** component4: a single path component. */
export function readComponent(reader: XdrReader, what = 'name'): string {
  const bytes = reader.opaque(nfsLimits.nfsOpaqueMaxBytes, what)
  if (bytes.length === 0) nfsError(status.INVAL, `empty ${what}`)
  if (bytes.length > nfsLimits.nameMaxBytes) nfsError(status.NAMETOOLONG, `${what} longer than ${nfsLimits.nameMaxBytes} bytes`)
  const text = bytes.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(bytes)) nfsError(status.INVAL, `${what} is not UTF-8`)
  if (text === '.' || text === '..' || text.includes('/') || text.includes('\0')) nfsError(status.BADNAME, `bad ${what}`)
  return text
}

export function readStateid(reader: XdrReader): Stateid {
  const seqid = reader.u32('stateid seqid')
  const other = Buffer.from(reader.opaqueFixed(stateidOtherBytes, 'stateid other'))
  return { seqid, other }
}

export function writeStateid(writer: XdrWriter, stateid: Stateid): void {
  writer.u32(stateid.seqid).opaqueFixed(stateid.other)
}

export function writeChangeInfo(writer: XdrWriter, change: { before: bigint; after: bigint; atomic: boolean }): void {
  writer.bool(change.atomic).u64(change.before).u64(change.after)
}

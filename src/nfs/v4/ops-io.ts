// Data operations: READ, WRITE, COMMIT, and the stateid check every I/O goes through.
//
// I/O with an open or lock stateid needs the open's share access (WRITE: OPEN4_SHARE_ACCESS_WRITE,
// else NFS4ERR_OPENMODE; READ is also allowed through a write-only open, as RFC 8881 8.2.2
// suggests, since clients read pages around partial writes). The anonymous and READ-bypass
// stateids get a POSIX permission check and must respect share denials (NFS4ERR_LOCKED).
// Byte-range locks are advisory: I/O does not check them.
import { nfsLimits } from '../../lib/index.ts'
import { posixAccess, type WriteStability } from '../../files/api.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { op, shareAccess, shareDeny, stableHow, status } from './constants.ts'
import { ok, readStateid, type CompoundContext, type FileObject, type OpResult } from './context.ts'
import { nfsError } from './errors.ts'
import { objectKey } from './handles.ts'
import { specialStateid, type OpenState, type Stateid } from './state.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const

export type CheckedStateid = { readonly kind: 'special' } | { readonly kind: 'open'; readonly open: OpenState }

/** Replace the 4.1 "current stateid" with the one an earlier operation set. */
export function effectiveStateid(ctx: CompoundContext, stateid: Stateid): Stateid {
  if (ctx.minorVersion === 0 || specialStateid(stateid) !== 'current') return stateid
  return ctx.currentStateid ?? nfsError(status.BAD_STATEID, 'no current stateid')
}

export async function checkIoStateid(ctx: CompoundContext, file: FileObject, given: Stateid, need: 'read' | 'write'): Promise<CheckedStateid> {
  const stateid = effectiveStateid(ctx, given)
  const special = specialStateid(stateid)
  const fileKey = objectKey(file)
  if (special === 'anonymous' || (special === 'bypass' && need === 'read')) {
    const attributes = await ctx.server.files.getAttributes(file.handle, ctx.signal)
    const rights = posixAccess(attributes, ctx.callerFor(file.fs))
    if (need === 'read' ? !rights.read : !rights.write) nfsError(status.ACCESS, 'permission denied')
    if (special === 'anonymous' && (ctx.server.state.deniedOn(fileKey) & (need === 'read' ? shareDeny.READ : shareDeny.WRITE)) !== 0) {
      nfsError(status.LOCKED, 'a share reservation denies this')
    }
    return { kind: 'special' }
  }
  if (special !== undefined) nfsError(status.BAD_STATEID, 'special stateid not valid here')
  const state = ctx.server.state.resolve(stateid, ctx.minorVersion, fileKey)
  const open = state.kind === 'open' ? state : state.open
  if (!open.owner.confirmed) nfsError(status.BAD_STATEID, 'open not confirmed')
  if (need === 'write' && (open.access & shareAccess.WRITE) === 0) nfsError(status.OPENMODE, 'file not open for writing')
  return { kind: 'open', open }
}

async function read(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const stateid = readStateid(args)
  const offset = args.u64('offset')
  const count = args.u32('count')
  const file = ctx.requireFile(status.ISDIR)
  await checkIoStateid(ctx, file, stateid, 'read')
  const responseRoom = (ctx.session?.fore.maxResponseBytes ?? nfsLimits.rpcRecordMaxBytes) - 512
  const length = Math.max(0, Math.min(count, nfsLimits.ioMaxBytes, responseRoom))
  if (offset > BigInt(ctx.server.files.maxFileSizeBytes)) return ok(new XdrWriter().bool(true).opaque(Buffer.alloc(0)))
  const { data, eof } = await ctx.server.files.read(file.handle, Number(offset), length, ctx.signal)
  return ok(new XdrWriter().bool(eof).opaque(data))
}

const stabilities: Record<number, WriteStability> = {
  [stableHow.UNSTABLE]: 'unstable', [stableHow.DATA_SYNC]: 'data-sync', [stableHow.FILE_SYNC]: 'file-sync',
}

async function write(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const stateid = readStateid(args)
  const offset = args.u64('offset')
  const stable = args.u32('stable_how4')
  const data = args.opaque(nfsLimits.ioMaxBytes, 'data')
  const stability = stabilities[stable] ?? nfsError(status.BADXDR, 'bad stable_how4')
  const current = ctx.requireCurrent()
  ctx.requireWritable(current)
  const file = ctx.requireFile(status.ISDIR)
  await checkIoStateid(ctx, file, stateid, 'write')
  if (offset + BigInt(data.length) > BigInt(ctx.server.files.maxFileSizeBytes)) nfsError(status.FBIG, 'write past the maximum file size')
  const written = await ctx.server.files.write(file.handle, Number(offset), data, stability, ctx.signal)
  const committed = written.committed === 'unstable' ? stableHow.UNSTABLE : stableHow.FILE_SYNC
  return ok(new XdrWriter().u32(data.length).u32(committed).opaqueFixed(ctx.server.files.writeVerifier))
}

async function commit(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  args.u64('offset')
  args.u32('count')
  const file = ctx.requireFile(status.ISDIR)
  await ctx.server.files.commit(file.handle, ctx.signal)
  return ok(new XdrWriter().opaqueFixed(ctx.server.files.writeVerifier))
}

export const ioOps: OpTable = {
  [op.READ]: { run: read, minorVersions: both },
  [op.WRITE]: { run: write, minorVersions: both },
  [op.COMMIT]: { run: commit, minorVersions: both },
}

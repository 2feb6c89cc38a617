// Byte-range locks: LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER (4.0). Locks are POSIX (advisory),
// per lock owner, held in memory and released when the owner's client expires; no blocking locks
// (READW/WRITEW are tried once, like READ/WRITE: the client polls).
import { nfsLimits } from '../../lib/index.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { lockType, op, shareAccess, status } from './constants.ts'
import { ok, readStateid, writeStateid, type CompoundContext, type OpResult } from './context.ts'
import { nfsError } from './errors.ts'
import { objectKey } from './handles.ts'
import { lockLengthOf, lockRangeOf, type LockKind, type LockRange } from './locks.ts'
import { effectiveStateid } from './ops-io.ts'
import { ownerMutexKey, withSeqid } from './seqid.ts'
import { nextSeqid, specialStateid, type Client, type LockOwner, type LockState, type OpenState, type State, type Stateid } from './state.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const

function readLockKind(args: XdrReader): LockKind {
  const type = args.u32('locktype')
  if (type === lockType.READ || type === lockType.READW) return 'read'
  if (type === lockType.WRITE || type === lockType.WRITEW) return 'write'
  return nfsError(status.INVAL, `lock type ${type}`)
}

function range(offset: bigint, length: bigint): { start: bigint; end: bigint } {
  return lockRangeOf(offset, length) ?? nfsError(status.INVAL, 'bad lock range')
}

function stateOf(ctx: CompoundContext, given: Stateid, kind: State['kind']): State {
  const file = ctx.requireFile(status.ISDIR)
  const stateid = effectiveStateid(ctx, given)
  if (specialStateid(stateid) !== undefined) nfsError(status.BAD_STATEID, 'special stateid')
  const state = ctx.server.state.resolve(stateid, ctx.minorVersion, objectKey(file))
  if (state.kind !== kind) nfsError(status.BAD_STATEID, `not a ${kind} stateid`)
  return state
}

function denied(conflict: LockRange<LockOwner>): OpResult {
  const body = new XdrWriter().u64(conflict.start).u64(lockLengthOf(conflict))
  body.u32(conflict.kind === 'write' ? lockType.WRITE : lockType.READ)
  body.u64(conflict.owner.client.clientId).opaque(conflict.owner.owner)
  return { status: status.DENIED, body }
}

function checkGrace(ctx: CompoundContext, client: Client, reclaim: boolean): void {
  ctx.server.grace.check(client, reclaim)
}

function takeLock(ctx: CompoundContext, lock: LockState, kind: LockKind, wanted: { start: bigint; end: bigint }): OpResult {
  if (kind === 'write' && (lock.open.access & shareAccess.WRITE) === 0) nfsError(status.OPENMODE, 'write lock on a file not open for writing')
  const conflict = ctx.server.state.lock(lock, kind, wanted.start, wanted.end)
  if (conflict !== undefined) return denied(conflict)
  lock.seqid = nextSeqid(lock.seqid)
  const stateid = { seqid: lock.seqid, other: lock.other }
  ctx.currentStateid = stateid
  const body = new XdrWriter()
  writeStateid(body, stateid)
  return ok(body)
}

async function lock(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const kind = readLockKind(args)
  const reclaim = args.bool('reclaim')
  const wanted = range(args.u64('offset'), args.u64('length'))
  if (args.bool('new_lock_owner')) {
    const openSeqid = args.u32('open_seqid')
    const openStateid = readStateid(args)
    const lockSeqid = args.u32('lock_seqid')
    args.u64('clientid')
    const ownerBytes = Buffer.from(args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'lock owner'))
    const open = stateOf(ctx, openStateid, 'open') as OpenState
    checkGrace(ctx, open.owner.client, reclaim)
    const openOwner = open.owner
    const key = ownerMutexKey(openOwner.client.clientId, 'open', openOwner.owner)
    return withSeqid(ctx, key, openSeqid, op.LOCK, () => openOwner, async () => {
      const current = stateOf(ctx, openStateid, 'open') as OpenState
      const state = ctx.server.state
      const owner = state.lockOwner(current.owner.client, ownerBytes) ?? state.newLockOwner(current.owner.client, ownerBytes)
      if (ctx.minorVersion === 0) owner.seqid = lockSeqid
      return takeLock(ctx, state.lockStateFor(owner, current), kind, wanted)
    })
  }
  const lockStateid = readStateid(args)
  const lockSeqid = args.u32('lock_seqid')
  const existing = stateOf(ctx, lockStateid, 'lock') as LockState
  checkGrace(ctx, existing.owner.client, reclaim)
  const owner = existing.owner
  return withSeqid(ctx, ownerMutexKey(owner.client.clientId, 'lock', owner.owner), lockSeqid, op.LOCK, () => owner, async () => {
    return takeLock(ctx, stateOf(ctx, lockStateid, 'lock') as LockState, kind, wanted)
  })
}

function lockClient(ctx: CompoundContext, clientId: bigint): Client {
  if (ctx.minorVersion > 0) return ctx.session?.client ?? nfsError(status.OP_NOT_IN_SESSION, 'no session')
  const client = ctx.server.state.client(clientId)
  ctx.server.state.renew(client)
  return client
}

async function lockt(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const kind = readLockKind(args)
  const wanted = range(args.u64('offset'), args.u64('length'))
  const clientId = args.u64('clientid')
  const owner = Buffer.from(args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'lock owner'))
  const file = ctx.requireFile(status.ISDIR)
  const client = lockClient(ctx, clientId)
  checkGrace(ctx, client, false)
  const conflict = ctx.server.state.conflict(objectKey(file), client, owner, kind, wanted.start, wanted.end)
  return conflict === undefined ? ok() : denied(conflict)
}

async function locku(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  readLockKind(args)
  const seqid = args.u32('seqid')
  const lockStateid = readStateid(args)
  const wanted = range(args.u64('offset'), args.u64('length'))
  const owner = (stateOf(ctx, lockStateid, 'lock') as LockState).owner
  return withSeqid(ctx, ownerMutexKey(owner.client.clientId, 'lock', owner.owner), seqid, op.LOCKU, () => owner, async () => {
    const lockState = stateOf(ctx, lockStateid, 'lock') as LockState
    ctx.server.state.unlock(lockState, wanted.start, wanted.end)
    lockState.seqid = nextSeqid(lockState.seqid)
    const stateid = { seqid: lockState.seqid, other: lockState.other }
    ctx.currentStateid = stateid
    const body = new XdrWriter()
    writeStateid(body, stateid)
    return ok(body)
  })
}

async function releaseLockOwner(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const clientId = args.u64('clientid')
  const ownerBytes = args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'lock owner')
  const client = lockClient(ctx, clientId)
  const owner = ctx.server.state.lockOwner(client, ownerBytes)
  if (owner !== undefined) ctx.server.state.releaseLockOwner(owner)
  return ok()
}

export const lockOps: OpTable = {
  [op.LOCK]: { run: lock, minorVersions: both },
  [op.LOCKT]: { run: lockt, minorVersions: both },
  [op.LOCKU]: { run: locku, minorVersions: both },
  [op.RELEASE_LOCKOWNER]: { run: releaseLockOwner, minorVersions: [0] },
}

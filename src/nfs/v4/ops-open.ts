// Open state: OPEN, OPEN_CONFIRM (4.0), OPEN_DOWNGRADE, CLOSE, DELEGRETURN. No delegations are
// ever granted (as EFS): OPEN always answers OPEN_DELEGATE_NONE (NONE_EXT when 4.1 asked for one).
//
// OPEN resolves (or creates) the file first, then changes state without awaiting in between, so
// two OPENs of one owner and file share one stateid. A file the OPEN itself created may be opened
// for writing whatever its new mode says (the creator's right, as open(O_CREAT) has).
import { nfsLimits } from '../../lib/index.ts'
import { posixAccess, type AttributeChanges, type CreateHow } from '../../files/api.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { createMode, op, openClaim, openDelegation, openResult, openType, shareAccess, status, verifierBytes } from './constants.ts'
import {
  ok, readComponent, readStateid, writeChangeInfo, writeStateid, type CompoundContext, type FileObject, type OpResult,
} from './context.ts'
import { nfsError } from './errors.ts'
import { objectKey } from './handles.ts'
import { decodeSettable, readFattr, writeBitmap } from './attributes.ts'
import { lookupChild } from './ops-filehandle.ts'
import { applyRemaining } from './ops-directory.ts'
import { effectiveStateid } from './ops-io.ts'
import { ownerMutexKey, withSeqid } from './seqid.ts'
import { nextSeqid, specialStateid, type Client, type OpenState, type Stateid } from './state.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const
const invalidStateid: Stateid = { seqid: 0xffff_ffff, other: Buffer.alloc(12) }

interface OpenArgs {
  readonly seqid: number
  readonly access: number
  readonly deny: number
  readonly want: number
  readonly clientId: bigint
  readonly owner: Buffer
  readonly create: { how: CreateHow; changes: AttributeChanges; attrset: number[] } | undefined
  readonly claim: { type: number; name?: string }
}

function readOpenArgs(ctx: CompoundContext, args: XdrReader): OpenArgs {
  const seqid = args.u32('seqid')
  const shareAccessBits = args.u32('share_access')
  const deny = args.u32('share_deny')
  const clientId = args.u64('clientid')
  const owner = Buffer.from(args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'open owner'))
  let create: OpenArgs['create']
  if (args.u32('opentype') === openType.CREATE) {
    const mode = args.u32('createmode')
    if (mode === createMode.UNCHECKED || mode === createMode.GUARDED) {
      create = { how: { mode: mode === createMode.GUARDED ? 'guarded' : 'unchecked' }, ...decodeSettable(readFattr(args), ctx.minorVersion) }
    } else if (mode === createMode.EXCLUSIVE) {
      create = { how: { mode: 'exclusive', verifier: Buffer.from(args.opaqueFixed(verifierBytes)) }, changes: {}, attrset: [] }
    } else if (mode === createMode.EXCLUSIVE_4_1 && ctx.minorVersion > 0) {
      const verifier = Buffer.from(args.opaqueFixed(verifierBytes))
      create = { how: { mode: 'exclusive', verifier }, ...decodeSettable(readFattr(args), ctx.minorVersion) }
    } else {
      nfsError(status.INVAL, `create mode ${mode}`)
    }
  }
  const claimType = args.u32('claim')
  let name: string | undefined
  if (claimType === openClaim.NULL || claimType === openClaim.DELEGATE_PREV) name = readComponent(args, 'file')
  else if (claimType === openClaim.PREVIOUS) args.u32('delegate_type')
  else if (claimType === openClaim.DELEGATE_CUR) {
    readStateid(args)
    name = readComponent(args, 'file')
  } else if (claimType === openClaim.DELEG_CUR_FH) readStateid(args)
  const access = shareAccessBits & 0xff
  const want = ctx.minorVersion > 0 ? shareAccessBits & shareAccess.WANT_DELEG_MASK : 0
  if (access < 1 || access > 3 || deny > 3 || (ctx.minorVersion === 0 && shareAccessBits > 3)) nfsError(status.INVAL, 'bad share access or deny')
  return { seqid, access, deny, want, clientId, owner, create, claim: { type: claimType, name } }
}

function openClient(ctx: CompoundContext, clientId: bigint): Client {
  if (ctx.minorVersion > 0) return ctx.session?.client ?? nfsError(status.OP_NOT_IN_SESSION, 'no session')
  const client = ctx.server.state.client(clientId)
  if (!client.confirmed) nfsError(status.STALE_CLIENTID, 'client not confirmed')
  ctx.server.state.renew(client)
  return client
}

async function open(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const request = readOpenArgs(ctx, args)
  const client = openClient(ctx, request.clientId)
  ctx.server.grace.check(client, request.claim.type === openClaim.PREVIOUS)
  const key = ownerMutexKey(client.clientId, 'open', request.owner)
  return withSeqid(ctx, key, request.seqid, op.OPEN, () => ctx.server.state.openOwner(client, request.owner), () => openFile(ctx, client, request))
}

interface Target {
  readonly file: FileObject
  readonly created: boolean
  readonly attrset: number[]
  readonly cinfo: { before: bigint; after: bigint; atomic: boolean }
}

async function resolveTarget(ctx: CompoundContext, request: OpenArgs): Promise<Target> {
  const none = { before: 0n, after: 0n, atomic: false }
  switch (request.claim.type) {
    case openClaim.NULL:
      return request.create === undefined ? openExisting(ctx, request.claim.name as string) : createFile(ctx, request.claim.name as string, request.create)
    case openClaim.PREVIOUS:
    case openClaim.FH:
      if (request.claim.type === openClaim.FH && ctx.minorVersion === 0) return nfsError(status.NOTSUPP, 'CLAIM_FH is NFSv4.1')
      return { file: await requireRegular(ctx, ctx.requireFile(status.ISDIR)), created: false, attrset: [], cinfo: none }
    default:
      return nfsError(status.NOTSUPP, 'delegation claims are not supported (no delegations are granted)')
  }
}

async function requireRegular(ctx: CompoundContext, file: FileObject): Promise<FileObject> {
  const attributes = await ctx.server.files.getAttributes(file.handle, ctx.signal)
  if (attributes.type === 'directory') nfsError(status.ISDIR, 'cannot OPEN a directory')
  if (attributes.type === 'symlink') nfsError(status.SYMLINK, 'cannot OPEN a symbolic link')
  return file
}

async function openExisting(ctx: CompoundContext, name: string): Promise<Target> {
  const directory = ctx.requireCurrent()
  const child = await lookupChild(ctx, directory, name)
  if (child.kind === 'pseudo-root') return nfsError(status.ISDIR, 'cannot OPEN a directory')
  const file = await requireRegular(ctx, child)
  const before = directory.kind === 'file' ? (await ctx.server.files.getAttributes(directory.handle, ctx.signal)).change : 0n
  return { file, created: false, attrset: [], cinfo: { before, after: before, atomic: true } }
}

async function createFile(ctx: CompoundContext, name: string, create: NonNullable<OpenArgs['create']>): Promise<Target> {
  const directory = ctx.requireCurrent()
  ctx.requireWritable(directory)
  const parent = ctx.requireFile(status.ROFS)
  const caller = ctx.callerFor(parent.fs)
  const object = { type: 'regular' as const, mode: create.changes.mode ?? 0o644, how: create.how }
  const created = await ctx.server.files.create(caller, parent.handle, name, object, ctx.signal)
  const file: FileObject = { kind: 'file', handle: created.handle, fs: parent.fs }
  if (created.created) {
    await applyRemaining(ctx, file, create.changes)
  } else if (create.changes.sizeBytes !== undefined && create.how.mode === 'unchecked') {
    await ctx.server.files.setAttributes(caller, file.handle, { sizeBytes: create.changes.sizeBytes }, { signal: ctx.signal })
  }
  return { file, created: created.created, attrset: created.created ? create.attrset : [], cinfo: created.directory }
}

async function checkOpenAccess(ctx: CompoundContext, target: Target, access: number): Promise<void> {
  if ((access & shareAccess.WRITE) !== 0) ctx.requireWritable(target.file)
  if (target.created) return
  const attributes = await ctx.server.files.getAttributes(target.file.handle, ctx.signal)
  const rights = posixAccess(attributes, ctx.callerFor(target.file.fs))
  if ((access & shareAccess.READ) !== 0 && !rights.read) nfsError(status.ACCESS, 'no read permission')
  if ((access & shareAccess.WRITE) !== 0 && !rights.write) nfsError(status.ACCESS, 'no write permission')
}

async function openFile(ctx: CompoundContext, client: Client, request: OpenArgs): Promise<OpResult> {
  const target = await resolveTarget(ctx, request)
  await checkOpenAccess(ctx, target, request.access)
  const state = ctx.server.state
  let owner = state.openOwner(client, request.owner)
  if (owner !== undefined && !owner.confirmed && ctx.minorVersion === 0) {
    state.dropOpenOwner(owner)
    owner = undefined
  }
  owner ??= state.newOpenOwner(client, request.owner)
  const fileKey = objectKey(target.file)
  let open = state.findOpen(owner, fileKey)
  state.checkShare(fileKey, request.access, request.deny, open)
  if (open === undefined) {
    open = state.newOpen(owner, target.file, fileKey, request.access, request.deny)
    await ctx.server.files.openFile(target.file.handle, ctx.signal)
  } else {
    open.access |= request.access
    open.deny |= request.deny
    open.seqid = nextSeqid(open.seqid)
  }
  ctx.current = target.file
  const stateid = { seqid: open.seqid, other: open.other }
  ctx.currentStateid = stateid
  let flags = openResult.LOCKTYPE_POSIX
  if (!owner.confirmed) flags |= openResult.CONFIRM
  if (ctx.minorVersion > 0) flags |= openResult.PRESERVE_UNLINKED
  const body = new XdrWriter()
  writeStateid(body, stateid)
  writeChangeInfo(body, target.cinfo)
  body.u32(flags)
  writeBitmap(body, target.attrset)
  writeDelegation(body, request.want)
  return ok(body)
}

/** No delegation; to a 4.1 client that asked for one, say why (WND4_NOT_WANTED / WND4_RESOURCE). */
function writeDelegation(body: XdrWriter, want: number): void {
  if (want === 0) {
    body.u32(openDelegation.NONE)
    return
  }
  body.u32(openDelegation.NONE_EXT)
  if (want === 0x400 || want === 0x500) body.u32(0) // WND4_NOT_WANTED / cancelled wants
  else body.u32(2).bool(false) // WND4_RESOURCE, will not signal
}

function openStateOf(ctx: CompoundContext, given: Stateid): OpenState {
  const file = ctx.requireFile(status.ISDIR)
  const stateid = effectiveStateid(ctx, given)
  if (specialStateid(stateid) !== undefined) nfsError(status.BAD_STATEID, 'special stateid')
  const state = ctx.server.state.resolve(stateid, ctx.minorVersion, objectKey(file))
  if (state.kind !== 'open') return nfsError(status.BAD_STATEID, 'not an open stateid')
  return state
}

function stateidResult(ctx: CompoundContext, open: OpenState): OpResult {
  const stateid = { seqid: open.seqid, other: open.other }
  ctx.currentStateid = stateid
  const body = new XdrWriter()
  writeStateid(body, stateid)
  return ok(body)
}

async function openConfirm(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const given = readStateid(args)
  const seqid = args.u32('seqid')
  const probe = openStateOf(ctx, given)
  const owner = probe.owner
  return withSeqid(ctx, ownerMutexKey(owner.client.clientId, 'open', owner.owner), seqid, op.OPEN_CONFIRM, () => owner, async () => {
    const open = openStateOf(ctx, given)
    if (open.owner.confirmed) nfsError(status.BAD_STATEID, 'open owner already confirmed')
    open.owner.confirmed = true
    open.seqid = nextSeqid(open.seqid)
    return stateidResult(ctx, open)
  })
}

async function openDowngrade(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const given = readStateid(args)
  const seqid = args.u32('seqid')
  const access = args.u32('share_access') & 0xff
  const deny = args.u32('share_deny')
  const owner = openStateOf(ctx, given).owner
  return withSeqid(ctx, ownerMutexKey(owner.client.clientId, 'open', owner.owner), seqid, op.OPEN_DOWNGRADE, () => owner, async () => {
    const open = openStateOf(ctx, given)
    if (access < 1 || access > 3 || deny > 3 || (access & ~open.access) !== 0 || (deny & ~open.deny) !== 0) {
      nfsError(status.INVAL, 'a downgrade must ask for a subset of what is held')
    }
    open.access = access
    open.deny = deny
    open.seqid = nextSeqid(open.seqid)
    return stateidResult(ctx, open)
  })
}

async function close(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const seqid = args.u32('seqid')
  const given = readStateid(args)
  const owner = closeOwner(ctx, given)
  return withSeqid(ctx, ownerMutexKey(owner.client.clientId, 'open', owner.owner), seqid, op.CLOSE, () => owner, async () => {
    const open = openStateOf(ctx, given)
    ctx.server.state.close(open)
    await ctx.server.files.closeFile(open.object.handle, ctx.signal)
    const body = new XdrWriter()
    writeStateid(body, ctx.minorVersion > 0 ? invalidStateid : { seqid: nextSeqid(open.seqid), other: open.other })
    ctx.currentStateid = undefined
    return ok(body)
  })
}

/** The open's owner; for a 4.0 CLOSE retransmission, the owner of the open it already closed. */
function closeOwner(ctx: CompoundContext, given: Stateid): OpenState['owner'] {
  try {
    return openStateOf(ctx, given).owner
  } catch (error) {
    const owner = ctx.minorVersion === 0 ? ctx.server.state.closedOwner(given.other) : undefined
    if (owner === undefined) throw error
    return owner
  }
}

async function delegreturn(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  readStateid(args)
  ctx.requireCurrent()
  return nfsError(status.BAD_STATEID, 'no delegations are granted')
}

export const openOps: OpTable = {
  [op.OPEN]: { run: open, minorVersions: both },
  [op.OPEN_CONFIRM]: { run: openConfirm, minorVersions: [0] },
  [op.OPEN_DOWNGRADE]: { run: openDowngrade, minorVersions: both },
  [op.CLOSE]: { run: close, minorVersions: both },
  [op.DELEGRETURN]: { run: delegreturn, minorVersions: both },
}

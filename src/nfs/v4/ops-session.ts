// NFSv4.1 client and session operations: EXCHANGE_ID, CREATE_SESSION, DESTROY_SESSION,
// SEQUENCE, RECLAIM_COMPLETE, DESTROY_CLIENTID, TEST_STATEID, FREE_STATEID,
// BIND_CONN_TO_SESSION, BACKCHANNEL_CTL (RFC 8881 section 18). State protection is SP4_NONE only;
// a back channel is accepted but never used (no delegations, no callbacks).
import { nfsLimits } from '../../lib/index.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import {
  channelDirFromClient, channelDirFromServer, createSessionFlag, exchangeIdFlag, op, sessionIdBytes, stateProtect, status, verifierBytes,
} from './constants.ts'
import { ok, readStateid, type CompoundContext, type OpResult } from './context.ts'
import { nfsError, Nfs4Error } from './errors.ts'
import { readBitmap } from './attributes.ts'
import { negotiateBack, negotiateFore, newSession, readChannelAttributes, readSessionId, startSequence, writeChannelAttributes, type Session } from './sessions.ts'
import { specialStateid, type Client } from './state.ts'
import type { OpTable } from './compound.ts'

const v41 = [1] as const

/** Thrown by SEQUENCE for a retransmission: the whole cached COMPOUND reply is the answer. */
export class SequenceReplay extends Error {
  readonly reply: XdrWriter
  constructor(reply: Buffer) {
    super('replayed request')
    this.name = 'SequenceReplay'
    this.reply = new XdrWriter().opaqueFixed(reply)
  }
}

function skipStateProtect(args: XdrReader): void {
  const how = args.u32('spa_how')
  if (how === stateProtect.NONE) return
  if (how === stateProtect.MACH_CRED) {
    readBitmap(args)
    readBitmap(args)
    nfsError(status.NOTSUPP, 'only SP4_NONE state protection')
  }
  nfsError(status.NOTSUPP, 'only SP4_NONE state protection')
}

async function exchangeId(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const verifier = Buffer.from(args.opaqueFixed(verifierBytes, 'co_verifier'))
  const ownerId = Buffer.from(args.opaque(nfsLimits.nfsOpaqueMaxBytes, 'co_ownerid'))
  const flags = args.u32('eia_flags')
  skipStateProtect(args)
  args.array(1, (item) => {
    item.string(nfsLimits.nfsOpaqueMaxBytes, 'nii_domain')
    item.string(nfsLimits.nfsOpaqueMaxBytes, 'nii_name')
    item.i64('seconds')
    item.u32('nseconds')
  }, 'eia_client_impl_id')
  const state = ctx.server.state
  const update = (flags & exchangeIdFlag.UPD_CONFIRMED_REC_A) !== 0
  const { confirmed, unconfirmed } = state.clientsOf(ownerId, 1)
  let client: Client
  if (confirmed !== undefined && confirmed.verifier.equals(verifier)) {
    client = confirmed
    state.renew(client)
  } else {
    if (update) nfsError(confirmed === undefined ? status.NOENT : status.NOT_SAME, 'no confirmed record to update')
    if (unconfirmed !== undefined) state.removeClient(unconfirmed)
    client = state.newClient(ownerId, verifier, 1, Buffer.alloc(verifierBytes))
  }
  const body = new XdrWriter().u64(client.clientId).u32(client.createSessionSequence)
  body.u32((exchangeIdFlag.USE_NON_PNFS | (client.confirmed ? exchangeIdFlag.CONFIRMED_R : 0)) >>> 0)
  body.u32(stateProtect.NONE)
  body.u64(0).opaque(ctx.server.serverOwner) // server_owner4
  body.opaque(ctx.server.serverOwner) // server_scope
  body.u32(1).string('cairn').string('cairn nfs server').i64(0).u32(0) // nfs_impl_id4<1>
  return ok(body)
}

function skipCallbackSecurity(args: XdrReader): void {
  args.array(8, (item) => {
    const flavor = item.u32('cb_secflavor')
    if (flavor === 1) {
      item.u32('stamp')
      item.string(nfsLimits.authSysMachineNameMaxBytes, 'machinename')
      item.u32('uid')
      item.u32('gid')
      item.array(nfsLimits.authSysGidsMax, (gid) => gid.u32())
    } else if (flavor === 6) {
      item.u32('gss service')
      item.opaque(nfsLimits.nfsOpaqueMaxBytes, 'handle from server')
      item.opaque(nfsLimits.nfsOpaqueMaxBytes, 'handle from client')
    }
  }, 'csa_sec_parms')
}

async function createSession(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const clientId = args.u64('csa_clientid')
  const sequence = args.u32('csa_sequence')
  const flags = args.u32('csa_flags')
  const foreAsked = readChannelAttributes(args)
  const backAsked = readChannelAttributes(args)
  args.u32('csa_cb_program')
  skipCallbackSecurity(args)
  const state = ctx.server.state
  const client = state.client(clientId)
  if (sequence === ((client.createSessionSequence - 1) >>> 0) && client.createSessionReply !== undefined) {
    return ok(new XdrWriter().opaqueFixed(client.createSessionReply))
  }
  if (sequence !== client.createSessionSequence) nfsError(status.SEQ_MISORDERED, 'unexpected CREATE_SESSION sequence')
  if (client.sessions.size >= nfsLimits.sessionsPerClientMax) nfsError(status.DELAY, 'too many sessions for this client')
  const fore = negotiateFore(foreAsked)
  const back = negotiateBack(backAsked)
  const newlyConfirmed = !client.confirmed
  if (newlyConfirmed) state.confirm(client)
  const id = Buffer.alloc(sessionIdBytes)
  id.writeBigUInt64BE(client.clientId, 0)
  id.writeUInt32BE(state.bootId, 8)
  id.writeUInt32BE(client.createSessionSequence, 12)
  const session = newSession(id, client, fore, back, flags & createSessionFlag.CONN_BACK_CHAN)
  client.sessions.add(session)
  state.sessionsById.set(session.idKey, session)
  state.renew(client)
  const body = new XdrWriter().opaqueFixed(id).u32(sequence).u32(session.flags)
  writeChannelAttributes(body, fore)
  writeChannelAttributes(body, back)
  client.createSessionSequence = (client.createSessionSequence + 1) >>> 0
  client.createSessionReply = body.toBuffer()
  // Recorded before the client may take state; a retransmission meanwhile gets the cached reply.
  if (newlyConfirmed) await ctx.server.grace.confirmed()
  return ok(body)
}

function sessionOf(ctx: CompoundContext, id: Buffer): Session {
  return ctx.server.state.sessionsById.get(id.toString('hex')) ?? nfsError(status.BADSESSION, 'unknown session')
}

async function destroySession(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const session = sessionOf(ctx, readSessionId(args))
  session.client.sessions.delete(session)
  ctx.server.state.sessionsById.delete(session.idKey)
  return ok()
}

async function sequence(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const id = Buffer.from(readSessionId(args))
  const sequenceId = args.u32('sa_sequenceid')
  const slotId = args.u32('sa_slotid')
  args.u32('sa_highest_slotid')
  const cacheThis = args.bool('sa_cachethis')
  const session = sessionOf(ctx, id)
  if (ctx.opCount > session.fore.maxOperations) nfsError(status.TOO_MANY_OPS, 'more operations than the session allows')
  const start = startSequence(session, slotId, sequenceId)
  if (start.kind === 'replay') throw new SequenceReplay(start.reply)
  ctx.session = session
  ctx.slot = start.slot
  ctx.cacheThis = cacheThis
  ctx.server.state.renew(session.client)
  const highest = session.slots.length - 1
  return ok(new XdrWriter().opaqueFixed(id).u32(sequenceId).u32(slotId).u32(highest).u32(highest).u32(0))
}

async function reclaimComplete(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const oneFs = args.bool('rca_one_fs')
  const client = ctx.session?.client ?? nfsError(status.OP_NOT_IN_SESSION, 'no session')
  if (oneFs) {
    ctx.requireCurrent()
    return ok()
  }
  if (client.reclaimComplete) nfsError(status.COMPLETE_ALREADY, 'reclaim already complete')
  client.reclaimComplete = true
  ctx.server.grace.reclaimCompleted(client)
  return ok()
}

async function destroyClientId(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const client = ctx.server.state.client(args.u64('dca_clientid'))
  if (client.sessions.size > 0 || client.states.size > 0) nfsError(status.CLIENTID_BUSY, 'client still has sessions or state')
  ctx.server.state.removeClient(client)
  return ok()
}

function testOne(ctx: CompoundContext, client: Client, stateid: { seqid: number; other: Buffer }): number {
  if (specialStateid(stateid) !== undefined) return status.BAD_STATEID
  const state = ctx.server.state.lookup(stateid.other)
  if (state === undefined || state.owner.client !== client) return status.BAD_STATEID
  if (stateid.seqid === 0 || stateid.seqid === state.seqid) return status.OK
  return stateid.seqid < state.seqid ? status.OLD_STATEID : status.BAD_STATEID
}

async function testStateid(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const stateids = args.array(nfsLimits.compoundOpsMax * 8, readStateid, 'ts_stateids', 16)
  const client = ctx.session?.client ?? nfsError(status.OP_NOT_IN_SESSION, 'no session')
  return ok(new XdrWriter().array(stateids, (writer, stateid) => writer.u32(testOne(ctx, client, stateid))))
}

async function freeStateid(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const stateid = readStateid(args)
  const client = ctx.session?.client ?? nfsError(status.OP_NOT_IN_SESSION, 'no session')
  const state = ctx.server.state.lookup(stateid.other)
  if (state === undefined || state.owner.client !== client) nfsError(status.BAD_STATEID, 'unknown stateid')
  if (state.kind === 'open') nfsError(status.LOCKS_HELD, 'an open stateid is freed by CLOSE')
  ctx.server.state.freeLockState(state)
  return ok()
}

async function bindConnection(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const id = Buffer.from(readSessionId(args))
  const direction = args.u32('bctsa_dir')
  args.bool('bctsa_use_conn_in_rdma_mode')
  sessionOf(ctx, id)
  const answer = direction === channelDirFromClient.FORE ? channelDirFromServer.FORE
    : direction === channelDirFromClient.BACK ? channelDirFromServer.BACK : channelDirFromServer.BOTH
  return ok(new XdrWriter().opaqueFixed(id).u32(answer).bool(false))
}

async function backchannelControl(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  args.u32('bca_cb_program')
  skipCallbackSecurity(args)
  if (ctx.session === undefined) throw new Nfs4Error(status.OP_NOT_IN_SESSION)
  return ok()
}

export const sessionOps: OpTable = {
  [op.EXCHANGE_ID]: { run: exchangeId, minorVersions: v41 },
  [op.CREATE_SESSION]: { run: createSession, minorVersions: v41 },
  [op.DESTROY_SESSION]: { run: destroySession, minorVersions: v41 },
  [op.SEQUENCE]: { run: sequence, minorVersions: v41 },
  [op.RECLAIM_COMPLETE]: { run: reclaimComplete, minorVersions: v41 },
  [op.DESTROY_CLIENTID]: { run: destroyClientId, minorVersions: v41 },
  [op.TEST_STATEID]: { run: testStateid, minorVersions: v41 },
  [op.FREE_STATEID]: { run: freeStateid, minorVersions: v41 },
  [op.BIND_CONN_TO_SESSION]: { run: bindConnection, minorVersions: v41 },
  [op.BACKCHANNEL_CTL]: { run: backchannelControl, minorVersions: v41 },
}

// NFSv4.1 sessions (RFC 8881 section 2.10): channel attribute negotiation, the slot table and its
// reply cache (exactly-once semantics for retransmitted requests).
//
// A slot's sequence id starts at 0; a request with sequence id = slot's + 1 is new, = slot's is a
// retransmission (answered from the cache, or NFS4ERR_RETRY_UNCACHED_REP), anything else is
// NFS4ERR_SEQ_MISORDERED. A slot busy with a request answers NFS4ERR_DELAY. The cache holds one
// whole COMPOUND reply per slot, at most fore.maxResponseCachedBytes (memory is bounded by
// sessions x slots x that).
import { nfsLimits } from '../../lib/index.ts'
import type { XdrReader, XdrWriter } from '../xdr.ts'
import { sessionIdBytes, status } from './constants.ts'
import { nfsError } from './errors.ts'
import type { Client } from './state.ts'

export interface ChannelAttributes {
  readonly headerPadBytes: number
  readonly maxRequestBytes: number
  readonly maxResponseBytes: number
  readonly maxResponseCachedBytes: number
  readonly maxOperations: number
  readonly maxRequests: number
  readonly rdmaIrd: readonly number[]
}

export interface Slot {
  sequenceId: number
  inUse: boolean
  /** The encoded COMPOUND4res of the last request, when it was cached. */
  reply: Buffer | undefined
}

export interface Session {
  readonly id: Buffer
  readonly idKey: string
  readonly client: Client
  readonly fore: ChannelAttributes
  readonly back: ChannelAttributes
  readonly flags: number
  readonly slots: Slot[]
}

export function readChannelAttributes(reader: XdrReader): ChannelAttributes {
  return {
    headerPadBytes: reader.u32(),
    maxRequestBytes: reader.u32(),
    maxResponseBytes: reader.u32(),
    maxResponseCachedBytes: reader.u32(),
    maxOperations: reader.u32(),
    maxRequests: reader.u32(),
    rdmaIrd: reader.array(1, (item) => item.u32(), 'ca_rdma_ird'),
  }
}

export function writeChannelAttributes(writer: XdrWriter, attributes: ChannelAttributes): void {
  writer.u32(attributes.headerPadBytes).u32(attributes.maxRequestBytes).u32(attributes.maxResponseBytes)
  writer.u32(attributes.maxResponseCachedBytes).u32(attributes.maxOperations).u32(attributes.maxRequests)
  writer.array(attributes.rdmaIrd, (item, value) => item.u32(value))
}

/** Our fore channel: the client's wishes, capped by our limits; too small to work -> TOOSMALL. */
export function negotiateFore(asked: ChannelAttributes): ChannelAttributes {
  const fore: ChannelAttributes = {
    headerPadBytes: 0,
    maxRequestBytes: Math.min(asked.maxRequestBytes, nfsLimits.rpcRecordMaxBytes),
    maxResponseBytes: Math.min(asked.maxResponseBytes, nfsLimits.rpcRecordMaxBytes),
    maxResponseCachedBytes: Math.min(asked.maxResponseCachedBytes, nfsLimits.sessionCachedReplyMaxBytes),
    maxOperations: Math.min(asked.maxOperations, nfsLimits.compoundOpsMax),
    maxRequests: Math.max(1, Math.min(asked.maxRequests, nfsLimits.sessionSlotsMax)),
    rdmaIrd: [],
  }
  if (fore.maxRequestBytes < 512 || fore.maxResponseBytes < 512 || fore.maxOperations < 2) {
    nfsError(status.TOOSMALL, 'channel attributes too small to carry a request')
  }
  return fore
}

/** We never call back, but accept a back channel so clients do not fall back to polling. */
export function negotiateBack(asked: ChannelAttributes): ChannelAttributes {
  return { ...asked, headerPadBytes: 0, maxRequests: Math.max(1, Math.min(asked.maxRequests, 16)), rdmaIrd: [] }
}

export function newSession(id: Buffer, client: Client, fore: ChannelAttributes, back: ChannelAttributes, flags: number): Session {
  const slots: Slot[] = []
  for (let index = 0; index < fore.maxRequests; index += 1) slots.push({ sequenceId: 0, inUse: false, reply: undefined })
  return { id, idKey: id.toString('hex'), client, fore, back, flags, slots }
}

export function readSessionId(reader: XdrReader): Buffer {
  return reader.opaqueFixed(sessionIdBytes, 'sessionid')
}

export type SequenceStart =
  | { readonly kind: 'new'; readonly slot: Slot }
  | { readonly kind: 'replay'; readonly reply: Buffer }

export function startSequence(session: Session, slotId: number, sequenceId: number): SequenceStart {
  const slot = session.slots[slotId]
  if (slot === undefined) return nfsError(status.BADSLOT, `slot ${slotId} beyond ${session.slots.length - 1}`)
  if (slot.inUse) nfsError(status.DELAY, 'slot busy')
  if (sequenceId === ((slot.sequenceId + 1) >>> 0)) {
    slot.sequenceId = sequenceId
    slot.inUse = true
    slot.reply = undefined
    return { kind: 'new', slot }
  }
  if (sequenceId === slot.sequenceId) {
    if (slot.reply === undefined) nfsError(status.RETRY_UNCACHED_REP, 'retransmitted request was not cached')
    return { kind: 'replay', reply: slot.reply as Buffer }
  }
  return nfsError(status.SEQ_MISORDERED, `slot ${slotId} expects ${slot.sequenceId + 1}, got ${sequenceId}`)
}

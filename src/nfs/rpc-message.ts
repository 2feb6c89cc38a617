// ONC RPC messages (RFC 5531): call header decoding with AUTH_NONE / AUTH_SYS credentials, and
// reply encoding (accepted and denied). Pure functions over XDR; no sockets here.
//
// decodeCall never throws for bad input: it returns a tagged outcome, so the transport decides
// between a reply (xid known) and a disconnect (not even an xid).
import { nfsLimits } from '../lib/index.ts'
import { XdrDecodeError, XdrReader, XdrWriter } from './xdr.ts'

export const rpcVersion = 2
export const msgType = { call: 0, reply: 1 } as const
export const replyStat = { accepted: 0, denied: 1 } as const
export const acceptStat = {
  success: 0,
  progUnavail: 1,
  progMismatch: 2,
  procUnavail: 3,
  garbageArgs: 4,
  systemErr: 5,
} as const
export type AcceptStat = (typeof acceptStat)[keyof typeof acceptStat]
export const rejectStat = { rpcMismatch: 0, authError: 1 } as const
export const authStat = { ok: 0, badCred: 1, rejectedCred: 2, badVerf: 3, rejectedVerf: 4, tooWeak: 5 } as const
export type AuthStat = (typeof authStat)[keyof typeof authStat]
export const authFlavor = { none: 0, sys: 1, short: 2, dh: 3, rpcsecGss: 6 } as const

export type RpcCredential =
  | { readonly flavor: 'none' }
  | {
      readonly flavor: 'sys'
      readonly stamp: number
      readonly machineName: string
      readonly uid: number
      readonly gid: number
      readonly gids: readonly number[]
    }

export interface RpcCallHeader {
  readonly xid: number
  readonly program: number
  readonly version: number
  readonly procedure: number
  readonly credential: RpcCredential
}

export type DecodedCall =
  /** Not even an xid and a message type: the stream is not RPC; close the connection. */
  | { readonly kind: 'unparseable'; readonly reason: string }
  /** A REPLY sent to us (we never call clients): dropped. */
  | { readonly kind: 'not-a-call'; readonly xid: number }
  | { readonly kind: 'rpc-mismatch'; readonly xid: number }
  | { readonly kind: 'auth-error'; readonly xid: number; readonly stat: AuthStat; readonly reason: string }
  | { readonly kind: 'garbage'; readonly xid: number; readonly reason: string }
  | { readonly kind: 'call'; readonly header: RpcCallHeader; readonly args: XdrReader }

export function decodeCall(record: Buffer): DecodedCall {
  if (record.length < 8) return { kind: 'unparseable', reason: `record of ${record.length} bytes has no RPC header` }
  const reader = new XdrReader(record)
  const xid = reader.u32('xid')
  const type = reader.u32('msg_type')
  if (type !== msgType.call) {
    return type === msgType.reply ? { kind: 'not-a-call', xid } : { kind: 'unparseable', reason: `msg_type ${type}` }
  }
  try {
    if (reader.u32('rpcvers') !== rpcVersion) return { kind: 'rpc-mismatch', xid }
    const program = reader.u32('prog')
    const version = reader.u32('vers')
    const procedure = reader.u32('proc')
    const credentialFlavor = reader.u32('cred flavor')
    const credentialBody = reader.opaque(nfsLimits.rpcAuthBodyMaxBytes, 'cred body')
    const verifierFlavor = reader.u32('verf flavor')
    reader.opaque(nfsLimits.rpcAuthBodyMaxBytes, 'verf body')
    const credential = decodeCredential(credentialFlavor, credentialBody)
    if (typeof credential === 'string') return { kind: 'auth-error', xid, stat: authStat.badCred, reason: credential }
    // AUTH_NONE and AUTH_SYS calls carry an AUTH_NONE verifier (RFC 5531 section 8).
    if (verifierFlavor !== authFlavor.none) {
      return { kind: 'auth-error', xid, stat: authStat.badVerf, reason: `verifier flavor ${verifierFlavor}` }
    }
    return { kind: 'call', header: { xid, program, version, procedure, credential }, args: reader }
  } catch (error) {
    if (error instanceof XdrDecodeError) return { kind: 'garbage', xid, reason: error.message }
    throw error
  }
}

/** A credential, or why it is refused (AUTH_BADCRED). */
function decodeCredential(flavor: number, body: Buffer): RpcCredential | string {
  if (flavor === authFlavor.none) return { flavor: 'none' }
  if (flavor !== authFlavor.sys) return `credential flavor ${flavor} is not supported (AUTH_NONE and AUTH_SYS are)`
  try {
    const reader = new XdrReader(body)
    const stamp = reader.u32('stamp')
    const machineName = reader.string(nfsLimits.authSysMachineNameMaxBytes, 'machinename')
    const uid = reader.u32('uid')
    const gid = reader.u32('gid')
    const gids = reader.array(nfsLimits.authSysGidsMax, (item) => item.u32('gid'), 'gids')
    reader.expectEnd('authsys_parms')
    return { flavor: 'sys', stamp, machineName, uid, gid, gids }
  } catch (error) {
    if (error instanceof XdrDecodeError) return `malformed AUTH_SYS credential: ${error.message}`
    throw error
  }
}

function replyHeader(writer: XdrWriter, xid: number, stat: number): XdrWriter {
  return writer.u32(xid).u32(msgType.reply).u32(stat)
}

/** MSG_ACCEPTED with an AUTH_NONE verifier; for SUCCESS the procedure results follow. */
export function encodeAcceptedReply(xid: number, stat: AcceptStat, results?: XdrWriter, versions?: { low: number; high: number }): XdrWriter {
  const writer = replyHeader(new XdrWriter(), xid, replyStat.accepted)
  writer.u32(authFlavor.none).u32(0)
  writer.u32(stat)
  if (stat === acceptStat.progMismatch) {
    writer.u32(versions?.low ?? 0).u32(versions?.high ?? 0)
  }
  if (stat === acceptStat.success && results !== undefined) writer.append(results)
  return writer
}

export function encodeRpcMismatchReply(xid: number): XdrWriter {
  return replyHeader(new XdrWriter(), xid, replyStat.denied).u32(rejectStat.rpcMismatch).u32(rpcVersion).u32(rpcVersion)
}

export function encodeAuthErrorReply(xid: number, stat: AuthStat): XdrWriter {
  return replyHeader(new XdrWriter(), xid, replyStat.denied).u32(rejectStat.authError).u32(stat)
}

/** Encode a CALL (the test client and fuzzers use this). */
export function encodeCall(header: RpcCallHeader, args?: XdrWriter): XdrWriter {
  const writer = new XdrWriter().u32(header.xid).u32(msgType.call).u32(rpcVersion)
  writer.u32(header.program).u32(header.version).u32(header.procedure)
  const credential = header.credential
  if (credential.flavor === 'none') {
    writer.u32(authFlavor.none).u32(0)
  } else {
    const body = new XdrWriter().u32(credential.stamp).string(credential.machineName)
    body.u32(credential.uid).u32(credential.gid).array(credential.gids, (item, gid) => item.u32(gid))
    writer.u32(authFlavor.sys).opaque(body.toBuffer())
  }
  writer.u32(authFlavor.none).u32(0)
  if (args !== undefined) writer.append(args)
  return writer
}

export type DecodedReply =
  | { readonly kind: 'accepted'; readonly xid: number; readonly stat: number; readonly results: XdrReader; readonly mismatch?: { low: number; high: number } }
  | { readonly kind: 'denied'; readonly xid: number; readonly rejectStat: number; readonly detail: number[] }

/** Decode a REPLY (test client). Throws XdrDecodeError on malformed replies. */
export function decodeReply(record: Buffer): DecodedReply {
  const reader = new XdrReader(record)
  const xid = reader.u32('xid')
  if (reader.u32('msg_type') !== msgType.reply) throw new XdrDecodeError('not a reply')
  const stat = reader.u32('reply_stat')
  if (stat === replyStat.denied) {
    const reject = reader.u32('reject_stat')
    const detail = reject === rejectStat.rpcMismatch ? [reader.u32(), reader.u32()] : [reader.u32()]
    return { kind: 'denied', xid, rejectStat: reject, detail }
  }
  reader.u32('verf flavor')
  reader.opaque(nfsLimits.rpcAuthBodyMaxBytes, 'verf body')
  const accept = reader.u32('accept_stat')
  if (accept === acceptStat.progMismatch) {
    return { kind: 'accepted', xid, stat: accept, results: reader, mismatch: { low: reader.u32(), high: reader.u32() } }
  }
  return { kind: 'accepted', xid, stat: accept, results: reader }
}

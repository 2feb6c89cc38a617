// NFSv4 COMPOUND (RFC 7530 section 15.2, RFC 8881 section 16.2): decode the header, run the
// operations in order while they succeed, answer the results of those that ran.
//
// A header that cannot be decoded is GARBAGE_ARGS (the RPC layer); an operation whose arguments
// cannot be decoded is NFS4ERR_BADXDR; an operation number the minor version does not define is
// answered as OP_ILLEGAL/NFS4ERR_OP_ILLEGAL; a defined one we do not implement, or a 4.0-only one
// in 4.1, is NFS4ERR_NOTSUPP. In 4.1 every COMPOUND starts with SEQUENCE unless it is a single
// session-management operation; SEQUENCE replays are answered from the slot's cache; the slot
// is released whatever happens.
import { nfsLimits } from '../../lib/index.ts'
import type { RpcCall } from '../rpc.ts'
import { XdrDecodeError, XdrWriter, type XdrReader } from '../xdr.ts'
import { lastOpOfMinorVersion, op, status, type NfsStatus } from './constants.ts'
import { CompoundContext, type NfsServerContext, type OpResult } from './context.ts'
import { statusOf } from './errors.ts'
import { attributeOps } from './ops-attributes.ts'
import { clientOps } from './ops-client.ts'
import { directoryOps } from './ops-directory.ts'
import { filehandleOps } from './ops-filehandle.ts'
import { ioOps } from './ops-io.ts'
import { lockOps } from './ops-locks.ts'
import { openOps } from './ops-open.ts'
import { sessionOps, SequenceReplay } from './ops-session.ts'

export interface OpEntry {
  readonly run: (ctx: CompoundContext, args: XdrReader) => Promise<OpResult>
  /** Minor versions that have this operation (others answer NOTSUPP). */
  readonly minorVersions: readonly number[]
  /** The result body an error still carries (SETATTR's attrsset). */
  readonly errorBody?: () => XdrWriter
}

export type OpTable = Readonly<Record<number, OpEntry>>

const operations: OpTable = {
  ...filehandleOps, ...attributeOps, ...directoryOps, ...openOps, ...ioOps, ...lockOps, ...clientOps, ...sessionOps,
}

/** 4.1 operations allowed without SEQUENCE, and then only alone. */
const sessionless = new Set<number>([op.EXCHANGE_ID, op.CREATE_SESSION, op.DESTROY_SESSION, op.DESTROY_CLIENTID, op.BIND_CONN_TO_SESSION])

export async function handleCompound(server: NfsServerContext, call: RpcCall): Promise<XdrWriter> {
  const args = call.args
  const tag = Buffer.from(args.opaque(nfsLimits.compoundTagMaxBytes, 'tag'))
  const minorVersion = args.u32('minorversion')
  const opCount = args.u32('argarray count')
  if (minorVersion > 1) return finish(status.MINOR_VERS_MISMATCH, tag, 0, new XdrWriter())
  if (opCount > nfsLimits.compoundOpsMax) {
    return finish(minorVersion === 0 ? status.RESOURCE : status.TOO_MANY_OPS, tag, 0, new XdrWriter())
  }
  const ctx = new CompoundContext(server, minorVersion, call.credential, call.connection, call.signal)
  ctx.opCount = opCount
  try {
    return await runOperations(ctx, args, tag, opCount)
  } catch (error) {
    if (error instanceof SequenceReplay) return error.reply
    throw error
  } finally {
    if (ctx.slot !== undefined) ctx.slot.inUse = false
  }
}

async function runOperations(ctx: CompoundContext, args: XdrReader, tag: Buffer, opCount: number): Promise<XdrWriter> {
  const results = new XdrWriter()
  let last: NfsStatus = status.OK
  let count = 0
  for (let index = 0; index < opCount; index += 1) {
    let opnum: number
    try {
      opnum = args.u32('argop')
    } catch (error) {
      if (!(error instanceof XdrDecodeError)) throw error
      results.u32(op.ILLEGAL).u32(status.BADXDR)
      return finish(status.BADXDR, tag, count + 1, results, ctx)
    }
    const result = await runOne(ctx, args, opnum, index, opCount)
    results.u32(result.opnum).u32(result.status)
    if (result.body !== undefined) results.append(result.body)
    count += 1
    last = result.status
    if (last !== status.OK) break
  }
  return finish(last, tag, count, results, ctx)
}

async function runOne(ctx: CompoundContext, args: XdrReader, opnum: number, index: number, opCount: number): Promise<OpResult & { opnum: number }> {
  const lastOp = lastOpOfMinorVersion[ctx.minorVersion] ?? op.RELEASE_LOCKOWNER
  if (opnum < op.ACCESS || opnum > lastOp) return { opnum: op.ILLEGAL, status: status.OP_ILLEGAL }
  if (ctx.minorVersion > 0) {
    const misplaced = sessionRule(opnum, index, opCount)
    if (misplaced !== undefined) return { opnum, status: misplaced }
  }
  const entry = operations[opnum]
  if (entry === undefined || !entry.minorVersions.includes(ctx.minorVersion)) return { opnum, status: status.NOTSUPP }
  try {
    return { opnum, ...(await entry.run(ctx, args)) }
  } catch (error) {
    if (error instanceof SequenceReplay) throw error
    return { opnum, status: statusOf(error), body: entry.errorBody?.() }
  }
}

function sessionRule(opnum: number, index: number, opCount: number): NfsStatus | undefined {
  if (index === 0 && opnum !== op.SEQUENCE) {
    if (!sessionless.has(opnum)) return status.OP_NOT_IN_SESSION
    if (opCount > 1) return status.NOT_ONLY_OP
    return undefined
  }
  if (index > 0 && opnum === op.SEQUENCE) return status.SEQUENCE_POS
  return undefined
}

function finish(compoundStatus: NfsStatus, tag: Buffer, count: number, results: XdrWriter, ctx?: CompoundContext): XdrWriter {
  const reply = new XdrWriter().u32(compoundStatus).opaque(tag).u32(count).append(results)
  const slot = ctx?.slot
  if (slot !== undefined && ctx?.session !== undefined) {
    const cacheable = ctx.cacheThis && reply.length <= ctx.session.fore.maxResponseCachedBytes
    slot.reply = cacheable ? reply.toBuffer() : undefined
  }
  return reply
}

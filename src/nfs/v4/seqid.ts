// NFSv4.0 owner seqids (RFC 7530 section 9.1.7): OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE, LOCK
// and LOCKU carry the owner's next seqid. The last seqid is answered again from the owner's
// replay cache (a retransmission); anything but last+1 is NFS4ERR_BAD_SEQID. One owner's seqid
// operations run one at a time (a retransmission that arrives while the original runs waits and
// then replays). NFSv4.1 has no seqids: sessions give exactly-once semantics instead.
import { XdrWriter } from '../xdr.ts'
import { op, status } from './constants.ts'
import type { CompoundContext, CurrentObject, OpResult } from './context.ts'
import { nfsError, statusOf } from './errors.ts'
import type { SeqidOwner } from './state.ts'

/** Errors that do not move the seqid (the request was not understood as the next one). */
const noAdvance = new Set<number>([
  status.STALE_CLIENTID, status.STALE_STATEID, status.BAD_STATEID, status.BAD_SEQID, status.BADXDR,
  status.RESOURCE, status.NOFILEHANDLE, status.MOVED,
])

export function ownerMutexKey(clientId: bigint, kind: 'open' | 'lock', owner: Buffer): string {
  return `${clientId}:${kind}:${owner.toString('hex')}`
}

export async function withSeqid(
  ctx: CompoundContext, key: string, seqid: number, opnum: number,
  findOwner: () => SeqidOwner | undefined, run: () => Promise<OpResult>,
): Promise<OpResult> {
  if (ctx.minorVersion > 0) return run()
  const release = await ctx.server.state.ownerMutex.lock(key)
  try {
    const owner = findOwner()
    if (owner?.seqid !== undefined) {
      const replay = owner.replay
      if (seqid === owner.seqid && replay !== undefined && replay.seqid === seqid && replay.op === opnum) {
        ctx.current = replay.current as CurrentObject | undefined
        return { status: replay.status as OpResult['status'], body: new XdrWriter().opaqueFixed(replay.body) }
      }
      const restarts = opnum === op.OPEN && isUnconfirmedOpenOwner(owner)
      if (!restarts && seqid !== ((owner.seqid + 1) >>> 0)) nfsError(status.BAD_SEQID, `expected seqid ${(owner.seqid + 1) >>> 0}, got ${seqid}`)
    }
    let result: OpResult
    try {
      result = await run()
    } catch (error) {
      result = { status: statusOf(error) }
    }
    const after = findOwner()
    if (after !== undefined && !noAdvance.has(result.status)) {
      after.seqid = seqid
      after.replay = { seqid, op: opnum, status: result.status, body: result.body?.toBuffer() ?? Buffer.alloc(0), current: ctx.current }
    }
    return result
  } finally {
    release()
  }
}

/** A 4.0 open owner that never confirmed restarts its seqid with its next OPEN. */
function isUnconfirmedOpenOwner(owner: SeqidOwner): boolean {
  return 'confirmed' in owner && owner.confirmed === false
}

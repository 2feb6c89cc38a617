// Attribute operations: GETATTR, SETATTR, VERIFY, NVERIFY, ACCESS.
import { posixAccess } from '../../files/api.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { access4, op, status } from './constants.ts'
import { ok, readStateid, type CompoundContext, type OpResult } from './context.ts'
import { nfsError } from './errors.ts'
import { attributesMatch, decodeSettable, encodeAttributes, readBitmap, readFattr, writeBitmap } from './attributes.ts'
import { checkIoStateid } from './ops-io.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const

async function getattr(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const requested = readBitmap(args)
  const current = ctx.requireCurrent()
  const body = new XdrWriter()
  encodeAttributes(body, requested, await ctx.subject(current, requested), ctx.facts)
  return ok(body)
}

async function setattr(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const stateid = readStateid(args)
  const fattr = readFattr(args)
  const current = ctx.requireCurrent()
  const { changes, attrset } = decodeSettable(fattr, ctx.minorVersion)
  ctx.requireWritable(current)
  const file = ctx.requireFile(status.ROFS)
  let openForWrite = false
  if (changes.sizeBytes !== undefined) {
    const checked = await checkIoStateid(ctx, file, stateid, 'write')
    openForWrite = checked.kind !== 'special'
  }
  await ctx.server.files.setAttributes(ctx.callerFor(file.fs), file.handle, changes, { openForWrite, signal: ctx.signal })
  const body = new XdrWriter()
  writeBitmap(body, attrset)
  return ok(body)
}

function verifier(negated: boolean) {
  return async (ctx: CompoundContext, args: XdrReader): Promise<OpResult> => {
    const fattr = readFattr(args)
    const current = ctx.requireCurrent()
    const same = attributesMatch(fattr, await ctx.subject(current, fattr.bitmap), ctx.facts)
    if (negated && same) nfsError(status.SAME, 'attributes are the same')
    if (!negated && !same) nfsError(status.NOT_SAME, 'attributes differ')
    return ok()
  }
}

async function access(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const requested = args.u32('access')
  const current = ctx.requireCurrent()
  const all = access4.READ | access4.LOOKUP | access4.MODIFY | access4.EXTEND | access4.DELETE | access4.EXECUTE
  let supported = requested & all
  let granted = 0
  if (current.kind === 'pseudo-root') {
    granted = access4.READ | access4.LOOKUP | access4.EXECUTE
  } else {
    const attributes = await ctx.server.files.getAttributes(current.handle, ctx.signal)
    const rights = posixAccess(attributes, ctx.callerFor(current.fs))
    const writable = rights.write && !current.fs.exportPolicy.readOnly
    if (attributes.type === 'directory') {
      if (rights.read) granted |= access4.READ
      if (rights.execute) granted |= access4.LOOKUP | access4.EXECUTE
      if (writable) granted |= access4.MODIFY | access4.EXTEND | access4.DELETE
    } else {
      supported &= ~(access4.LOOKUP | access4.DELETE)
      if (rights.read) granted |= access4.READ
      if (writable) granted |= access4.MODIFY | access4.EXTEND
      if (rights.execute) granted |= access4.EXECUTE
    }
  }
  return ok(new XdrWriter().u32(supported).u32(granted & supported))
}

export const attributeOps: OpTable = {
  [op.GETATTR]: { run: getattr, minorVersions: both },
  [op.SETATTR]: { run: setattr, minorVersions: both, errorBody: () => new XdrWriter().u32(0) },
  [op.VERIFY]: { run: verifier(false), minorVersions: both },
  [op.NVERIFY]: { run: verifier(true), minorVersions: both },
  [op.ACCESS]: { run: access, minorVersions: both },
}

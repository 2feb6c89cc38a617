// Filehandle operations: PUTFH, PUTROOTFH, PUTPUBFH, GETFH, SAVEFH, RESTOREFH, LOOKUP, LOOKUPP,
// SECINFO, SECINFO_NO_NAME. The pseudo root lists the exports this client may see; LOOKUP of an
// export name there enters that file system's root, and LOOKUPP from a root comes back.
import { isStoreError, nfsLimits } from '../../lib/index.ts'
import { FileError, type FileHandle } from '../../files/api.ts'
import { authFlavor } from '../rpc-message.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { op, secinfoStyle, status } from './constants.ts'
import { clientAllowed, ok, readComponent, type CompoundContext, type CurrentObject, type OpResult } from './context.ts'
import { nfsError } from './errors.ts'
import { decodeHandle, encodeHandle } from './handles.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const

async function putfh(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const object = decodeHandle(args.opaque(nfsLimits.nfsHandleMaxBytes, 'nfs_fh4'))
  if (object.kind === 'pseudo-root') {
    ctx.current = object
    return ok()
  }
  ctx.current = ctx.enter(object.handle, await fileSystemOf(ctx, object.handle))
  return ok()
}

async function fileSystemOf(ctx: CompoundContext, handle: FileHandle) {
  try {
    return await ctx.server.files.fileSystemOf(handle, ctx.signal)
  } catch (error) {
    if (isStoreError(error, 'INVALID_ARGUMENT')) nfsError(status.BADHANDLE, 'not a handle of this server')
    throw error
  }
}

async function putroot(ctx: CompoundContext): Promise<OpResult> {
  ctx.current = { kind: 'pseudo-root' }
  return ok()
}

async function getfh(ctx: CompoundContext): Promise<OpResult> {
  return ok(new XdrWriter().opaque(encodeHandle(ctx.requireCurrent())))
}

async function savefh(ctx: CompoundContext): Promise<OpResult> {
  ctx.saved = ctx.requireCurrent()
  ctx.savedStateid = ctx.currentStateid
  return ok()
}

async function restorefh(ctx: CompoundContext): Promise<OpResult> {
  if (ctx.saved === undefined) nfsError(status.RESTOREFH, 'no saved filehandle')
  ctx.current = ctx.saved
  ctx.currentStateid = ctx.savedStateid
  return ok()
}

/** The child `name` of a directory object (the pseudo root's children are export roots). */
export async function lookupChild(ctx: CompoundContext, directory: CurrentObject, name: string): Promise<CurrentObject> {
  if (directory.kind === 'pseudo-root') {
    const fs = await ctx.server.files.findFileSystem(name, ctx.signal)
    if (fs === undefined || !clientAllowed(fs.exportPolicy, ctx.connection.remoteAddress)) nfsError(status.NOENT, 'no such export')
    return ctx.enter(fs.rootHandle, fs)
  }
  try {
    const found = await ctx.server.files.lookup(ctx.callerFor(directory.fs), directory.handle, name, ctx.signal)
    return { kind: 'file', handle: found.handle, fs: directory.fs }
  } catch (error) {
    if (error instanceof FileError && error.reason === 'not-directory') {
      const attributes = await ctx.server.files.getAttributes(directory.handle, ctx.signal)
      if (attributes.type === 'symlink') nfsError(status.SYMLINK, 'LOOKUP in a symbolic link')
    }
    throw error
  }
}

async function lookup(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const name = readComponent(args)
  ctx.current = await lookupChild(ctx, ctx.requireCurrent(), name)
  return ok()
}

async function lookupp(ctx: CompoundContext): Promise<OpResult> {
  const current = ctx.requireCurrent()
  if (current.kind === 'pseudo-root') nfsError(status.NOENT, 'the pseudo root has no parent')
  if (current.handle.equals(current.fs.rootHandle)) {
    ctx.current = { kind: 'pseudo-root' }
    return ok()
  }
  const found = await ctx.server.files.lookupParent(ctx.callerFor(current.fs), current.handle, ctx.signal)
  ctx.current = { kind: 'file', handle: found.handle, fs: current.fs }
  return ok()
}

/** AUTH_SYS first (what we prefer), then AUTH_NONE. */
function flavors(): XdrWriter {
  return new XdrWriter().array([authFlavor.sys, authFlavor.none], (writer, flavor) => writer.u32(flavor))
}

async function secinfo(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const name = readComponent(args)
  await lookupChild(ctx, ctx.requireCurrent(), name)
  if (ctx.minorVersion > 0) ctx.current = undefined
  return ok(flavors())
}

async function secinfoNoName(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const style = args.u32('secinfo_style4')
  if (style !== secinfoStyle.CURRENT_FH && style !== secinfoStyle.PARENT) nfsError(status.INVAL, 'bad secinfo style')
  const current = ctx.requireCurrent()
  if (style === secinfoStyle.PARENT && current.kind === 'pseudo-root') nfsError(status.NOENT, 'the pseudo root has no parent')
  ctx.current = undefined
  return ok(flavors())
}

export const filehandleOps: OpTable = {
  [op.PUTFH]: { run: putfh, minorVersions: both },
  [op.PUTROOTFH]: { run: putroot, minorVersions: both },
  [op.PUTPUBFH]: { run: putroot, minorVersions: both },
  [op.GETFH]: { run: getfh, minorVersions: both },
  [op.SAVEFH]: { run: savefh, minorVersions: both },
  [op.RESTOREFH]: { run: restorefh, minorVersions: both },
  [op.LOOKUP]: { run: lookup, minorVersions: both },
  [op.LOOKUPP]: { run: lookupp, minorVersions: both },
  [op.SECINFO]: { run: secinfo, minorVersions: both },
  [op.SECINFO_NO_NAME]: { run: secinfoNoName, minorVersions: [1] },
}

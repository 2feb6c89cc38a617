// Namespace operations: READDIR, CREATE (directories and symlinks; regular files come through
// OPEN), REMOVE, RENAME, LINK, READLINK.
//
// READDIR pages through the files layer by cookie and packs entries until the client's maxcount
// (capped by our reply limit) is reached; the pseudo root lists the exports this client may use.
import { isStoreError, nfsLimits } from '../../lib/index.ts'
import type { AttributeChanges, DirectoryEntry, FileSystemUsage, NewObject } from '../../files/api.ts'
import { XdrWriter, type XdrReader } from '../xdr.ts'
import { attr, fileType, op, status, verifierBytes } from './constants.ts'
import {
  clientAllowed, ok, pseudoFileIdOf, readComponent, writeChangeInfo, type CompoundContext, type CurrentObject, type FileObject, type OpResult,
} from './context.ts'
import { nfsError } from './errors.ts'
import { encodeHandle } from './handles.ts'
import { bitmapOf, bitmapBits, decodeSettable, encodeAttributes, needsUsage, readBitmap, readFattr, writeBitmap, type Bitmap } from './attributes.ts'
import type { OpTable } from './compound.ts'

const both = [0, 1] as const
/** Bytes after the last entry: the "no more entries" flag and eof. */
const listTailBytes = 8

interface PackedEntry {
  readonly cookie: bigint
  readonly name: string
  readonly encode: (writer: XdrWriter) => void
}

async function readdir(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const cookie = args.u64('cookie')
  const verifier = Buffer.from(args.opaqueFixed(verifierBytes, 'cookieverf'))
  args.u32('dircount')
  const maxcount = args.u32('maxcount')
  const requested = readBitmap(args)
  const directory = ctx.requireCurrent()
  if (cookie === 1n || cookie === 2n) nfsError(status.BAD_COOKIE, 'cookies 1 and 2 are reserved')
  const limit = Math.min(maxcount, nfsLimits.readdirReplyMaxBytes, (ctx.session?.fore.maxResponseBytes ?? Infinity) - 256)
  const body = new XdrWriter()
  if (directory.kind === 'pseudo-root') {
    body.opaqueFixed(Buffer.alloc(verifierBytes))
    return ok(await packEntries(body, limit, await pseudoEntries(ctx, cookie, requested), true))
  }
  try {
    return ok(await readFileDirectory(ctx, directory, cookie, verifier, requested, limit, body))
  } catch (error) {
    if (isStoreError(error, 'INVALID_RANGE')) nfsError(status.BAD_COOKIE, 'unknown cookie')
    throw error
  }
}

async function readFileDirectory(ctx: CompoundContext, directory: FileObject, cookie: bigint, verifier: Buffer, requested: Bitmap, limit: number, body: XdrWriter): Promise<XdrWriter> {
  const caller = ctx.callerFor(directory.fs)
  const usage = needsUsage(requested) ? await ctx.server.files.usage(directory.handle, ctx.signal) : undefined
  const packer = new EntryPacker(body, limit)
  let page = await ctx.server.files.readDirectory(caller, directory.handle, {
    cookie, verifier: cookie === 0n ? undefined : verifier, maxEntries: packer.entriesToAsk(), signal: ctx.signal,
  })
  body.opaqueFixed(page.verifier)
  for (;;) {
    for (const entry of page.entries) {
      if (!packer.add(fileEntry(ctx, directory, entry, requested, usage))) return packer.finish(false)
    }
    const last = page.entries[page.entries.length - 1]
    if (page.eof || last === undefined) return packer.finish(page.eof)
    page = await ctx.server.files.readDirectory(caller, directory.handle, { cookie: last.cookie, verifier: page.verifier, maxEntries: packer.entriesToAsk(), signal: ctx.signal })
  }
}

/** First guess of an entry's reply bytes (cookie, name, an `ls -l` attribute set with a handle). */
const entryBytesGuess = 256
/** Fewest entries asked of the files layer at once (a page costs a snapshot and a scan). */
const entriesAskedMin = 8

function fileEntry(ctx: CompoundContext, directory: FileObject, entry: DirectoryEntry, requested: Bitmap, usage: FileSystemUsage | undefined): PackedEntry {
  const subject = {
    attributes: entry.attributes, handle: encodeHandle({ kind: 'file', handle: entry.handle }),
    fsid: { major: BigInt(directory.fs.number), minor: 0n }, mountedOnFileId: entry.attributes.fileId, usage,
  }
  return { cookie: entry.cookie, name: entry.name, encode: (writer) => encodeAttributes(writer, requested, subject, ctx.facts) }
}

async function pseudoEntries(ctx: CompoundContext, cookie: bigint, requested: Bitmap): Promise<PackedEntry[]> {
  const entries: PackedEntry[] = []
  for (const fs of await ctx.server.files.listFileSystems(ctx.signal)) {
    const entryCookie = 2n + BigInt(fs.number)
    if (entryCookie <= cookie || !clientAllowed(fs.exportPolicy, ctx.connection.remoteAddress)) continue
    const subject = await ctx.subject({ kind: 'file', handle: fs.rootHandle, fs }, requested)
    entries.push({ cookie: entryCookie, name: fs.name, encode: (writer) => encodeAttributes(writer, requested, { ...subject, mountedOnFileId: pseudoFileIdOf(fs) }, ctx.facts) })
  }
  return entries.sort((a, b) => (a.cookie < b.cookie ? -1 : 1))
}

/** Appends dirlist4 entries while they fit in `limit` bytes of reply body. */
class EntryPacker {
  readonly #body: XdrWriter
  readonly #entry = new XdrWriter()
  readonly #limit: number
  /** Reply bytes before the first entry: the verifier (packed right after the first page) and the tail. */
  readonly #startSize: number
  #size: number
  #count = 0

  constructor(body: XdrWriter, limit: number, verifierIncluded = false) {
    this.#body = body
    this.#limit = limit
    this.#startSize = body.length + listTailBytes + (verifierIncluded ? 0 : verifierBytes)
    this.#size = this.#startSize
  }

  /**
   * Entries to ask the files layer for next: about as many as still fit, judged by what the
   * packed ones cost. Asking for more reads and decodes inodes that never go out (a 64 KiB
   * `ls -l` reply holds ~250 entries, not the 1,024 that limit / 64 would ask for).
   */
  entriesToAsk(): number {
    const entryBytes = this.#count === 0 ? entryBytesGuess : (this.#size - this.#startSize) / this.#count
    const fitting = Math.ceil((this.#limit - this.#size) / Math.max(1, entryBytes)) + 1
    return Math.max(entriesAskedMin, Math.min(nfsLimits.readdirEntriesMax, fitting))
  }

  add(entry: PackedEntry): boolean {
    // One entry writer, reused: its bytes are copied into the body (a reply of a few hundred
    // entries stays a few contiguous buffers, not a list of ~3 small parts per entry).
    const encoded = this.#entry.reset().bool(true).u64(entry.cookie).string(entry.name)
    entry.encode(encoded)
    if (this.#size + encoded.length > this.#limit) {
      if (this.#count === 0) nfsError(status.TOOSMALL, 'maxcount too small for one entry')
      return false
    }
    this.#body.appendCopy(encoded)
    this.#size += encoded.length
    this.#count += 1
    return true
  }

  finish(eof: boolean): XdrWriter {
    return this.#body.bool(false).bool(eof)
  }
}

async function packEntries(body: XdrWriter, limit: number, entries: readonly PackedEntry[], eof: boolean): Promise<XdrWriter> {
  const packer = new EntryPacker(body, limit, true)
  for (const entry of entries) if (!packer.add(entry)) return packer.finish(false)
  return packer.finish(eof)
}

const bitsWithout = (bitmap: Bitmap, removed: readonly number[]): number[] => bitmapOf(bitmapBits(bitmap).filter((bit) => !removed.includes(bit)))

/** Attributes CREATE/OPEN could not pass to create() (owner, times...), applied right after it. */
export async function applyRemaining(ctx: CompoundContext, file: FileObject, changes: AttributeChanges): Promise<void> {
  const { mode: _mode, ...rest } = changes
  if (Object.keys(rest).length === 0) return
  await ctx.server.files.setAttributes(ctx.callerFor(file.fs), file.handle, rest, { openForWrite: true, signal: ctx.signal })
}

async function create(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const type = args.u32('createtype4')
  let target = ''
  if (type === fileType.LNK) target = args.string(nfsLimits.symlinkTargetMaxBytes, 'linkdata')
  if (type === fileType.BLK || type === fileType.CHR) {
    args.u32('specdata1')
    args.u32('specdata2')
  }
  const name = readComponent(args, 'objname')
  const { changes, attrset } = decodeSettable(readFattr(args), ctx.minorVersion)
  const directory = ctx.requireCurrent()
  ctx.requireWritable(directory)
  const parent = ctx.requireFile(status.ROFS)
  let object: NewObject
  if (type === fileType.DIR) object = { type: 'directory', mode: changes.mode ?? 0o755 }
  else if (type === fileType.LNK) object = { type: 'symlink', mode: 0o777, target }
  else return nfsError(status.BADTYPE, `cannot CREATE objects of type ${type}`)
  if (changes.sizeBytes !== undefined) nfsError(status.INVAL, 'size cannot be set on CREATE')
  const created = await ctx.server.files.create(ctx.callerFor(parent.fs), parent.handle, name, object, ctx.signal)
  const child: FileObject = { kind: 'file', handle: created.handle, fs: parent.fs }
  await applyRemaining(ctx, child, changes)
  ctx.current = child
  const body = new XdrWriter()
  writeChangeInfo(body, created.directory)
  writeBitmap(body, type === fileType.LNK ? bitsWithout(attrset, [attr.MODE]) : attrset)
  return ok(body)
}

async function remove(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const name = readComponent(args, 'target')
  const directory = ctx.requireCurrent()
  ctx.requireWritable(directory)
  const parent = ctx.requireFile(status.ROFS)
  const change = await ctx.server.files.remove(ctx.callerFor(parent.fs), parent.handle, name, ctx.signal)
  const body = new XdrWriter()
  writeChangeInfo(body, change)
  return ok(body)
}

function sameFileSystem(source: CurrentObject | undefined, target: CurrentObject): { source: FileObject; target: FileObject } {
  if (source === undefined) return nfsError(status.NOFILEHANDLE, 'no saved filehandle')
  if (source.kind === 'pseudo-root' || target.kind === 'pseudo-root') return nfsError(status.ROFS, 'the pseudo root is read-only')
  if (source.fs.id !== target.fs.id) nfsError(status.XDEV, 'across file systems')
  return { source, target }
}

async function rename(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const oldName = readComponent(args, 'oldname')
  const newName = readComponent(args, 'newname')
  const current = ctx.requireCurrent()
  const { source, target } = sameFileSystem(ctx.saved, current)
  ctx.requireWritable(target)
  const changes = await ctx.server.files.rename(ctx.callerFor(target.fs), source.handle, oldName, target.handle, newName, ctx.signal)
  const body = new XdrWriter()
  writeChangeInfo(body, changes.from)
  writeChangeInfo(body, changes.to)
  return ok(body)
}

async function link(ctx: CompoundContext, args: XdrReader): Promise<OpResult> {
  const name = readComponent(args, 'newname')
  const current = ctx.requireCurrent()
  const { source, target } = sameFileSystem(ctx.saved, current)
  ctx.requireWritable(target)
  const linked = await ctx.server.files.link(ctx.callerFor(target.fs), source.handle, target.handle, name, ctx.signal)
  const body = new XdrWriter()
  writeChangeInfo(body, linked.directory)
  return ok(body)
}

async function readlink(ctx: CompoundContext): Promise<OpResult> {
  const file = ctx.requireFile(status.INVAL)
  const target = await ctx.server.files.readLink(file.handle, ctx.signal)
  return ok(new XdrWriter().string(target))
}

export const directoryOps: OpTable = {
  [op.READDIR]: { run: readdir, minorVersions: both },
  [op.CREATE]: { run: create, minorVersions: both },
  [op.REMOVE]: { run: remove, minorVersions: both },
  [op.RENAME]: { run: rename, minorVersions: both },
  [op.LINK]: { run: link, minorVersions: both },
  [op.READLINK]: { run: readlink, minorVersions: both },
}

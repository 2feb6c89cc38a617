// A consistency check of one file system's metadata (docs/format/files.md 3-7), read in one
// snapshot: every entry names a live inode of its type and exists by name and by cookie; link
// counts, directory entry counts and parents match the entries; every inode is reachable from
// the root or is an orphan; extents do not overlap and sum to each file's allocated bytes;
// the per-file-system chunk counts match the extents and each counted chunk is stored; the usage
// counters match what is there.
//
// Memory is O(inodes + distinct chunks): a tool for tests and operators, not a background task.
// Never: change anything.
import { chunkIdFrom, chunkIdHex } from '../lib/index.ts'
import { decodeKey, scanAll, type ReadTx } from '../meta/index.ts'
import type { FileSystemId } from './api.ts'
import { rootInode, type FilesContext } from './context.ts'
import { chunkRefRange, fileSystemRange, usageKey } from './keys.ts'
import { decodeChunkRef, decodeCookie, decodeEntry, decodeExtent, decodeInode, decodeUsage, emptyUsage, type InodeRecord, type UsageCounters } from './records.ts'

export interface FsckReport {
  readonly inodes: number
  readonly entries: number
  readonly extents: number
  readonly chunks: number
  readonly orphans: number
  readonly problems: string[]
}

interface Tally {
  readonly inodes: Map<number, InodeRecord>
  readonly links: Map<number, number>
  readonly entriesOf: Map<number, number>
  readonly subdirectoriesOf: Map<number, number>
  readonly children: Map<number, number[]>
  readonly cookies: Map<string, { inode: number; name: string }>
  readonly names: Map<string, { inode: number; cookie: number }>
  readonly allocated: Map<number, number>
  readonly chunkUses: Map<string, number>
  readonly orphans: Set<number>
  readonly trims: Set<number>
  /** One past each file's last extent. */
  readonly extentEnds: Map<number, number>
}

export async function checkFileSystem(ctx: FilesContext, fsId: FileSystemId): Promise<FsckReport> {
  return ctx.meta.read(async (tx) => {
    const problems: string[] = []
    const tally: Tally = {
      inodes: new Map(), links: new Map(), entriesOf: new Map(), subdirectoriesOf: new Map(), children: new Map(),
      cookies: new Map(), names: new Map(), allocated: new Map(), chunkUses: new Map(), orphans: new Set(), trims: new Set(), extentEnds: new Map(),
    }
    let extents = 0
    for await (const entry of scanAll(tx, fileSystemRange(fsId))) {
      const parts = decodeKey(entry.key)
      const tag = parts[3]
      if (tag === 'i') tally.inodes.set(parts[4] as number, decodeInode(entry.value, 'inode'))
      else if (tag === 'd') tally.names.set(`${parts[4]}/${parts[5] as string}`, decodeEntry(entry.value, 'entry'))
      else if (tag === 'c') tally.cookies.set(`${parts[4]}/${parts[5]}`, decodeCookie(entry.value, 'cookie'))
      else if (tag === 'o') tally.orphans.add(parts[4] as number)
      else if (tag === 't') tally.trims.add(parts[4] as number)
      else if (tag === 'x') {
        extents += 1
        const inode = parts[4] as number
        const extent = decodeExtent(parts[5] as number, entry.value, 'extent')
        if (extent.offset < (tally.extentEnds.get(inode) ?? 0)) problems.push(`inode ${inode}: extent at ${extent.offset} overlaps the one before`)
        tally.extentEnds.set(inode, extent.offset + extent.lengthBytes)
        tally.allocated.set(inode, (tally.allocated.get(inode) ?? 0) + extent.lengthBytes)
        const hex = chunkIdHex(extent.chunkId)
        tally.chunkUses.set(hex, (tally.chunkUses.get(hex) ?? 0) + 1)
      }
    }
    checkEntries(tally, problems)
    checkInodes(tally, problems)
    const chunks = await checkChunks(ctx, tx, fsId, tally, problems)
    await checkUsage(tx, fsId, tally, chunks.storedBytes, problems)
    return { inodes: tally.inodes.size, entries: tally.names.size, extents, chunks: chunks.count, orphans: tally.orphans.size, problems }
  })
}

function bump(map: Map<number, number>, key: number): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

function checkEntries(tally: Tally, problems: string[]): void {
  for (const [at, entry] of tally.names) {
    const slash = at.indexOf('/')
    const directory = Number(at.slice(0, slash))
    const name = at.slice(slash + 1)
    const parent = tally.inodes.get(directory)
    const child = tally.inodes.get(entry.inode)
    if (parent?.type !== 'directory') problems.push(`entry ${JSON.stringify(name)} in ${directory}: not in a directory`)
    if (child === undefined) {
      problems.push(`entry ${JSON.stringify(name)} in ${directory}: dangling (inode ${entry.inode} is missing)`)
      continue
    }
    bump(tally.links, entry.inode)
    bump(tally.entriesOf, directory)
    tally.children.set(directory, [...(tally.children.get(directory) ?? []), entry.inode])
    if (child.type === 'directory') {
      bump(tally.subdirectoriesOf, directory)
      if (child.parent !== directory) problems.push(`directory ${entry.inode}: parent ${child.parent}, but named in ${directory}`)
    }
    const byCookie = tally.cookies.get(`${directory}/${entry.cookie}`)
    if (byCookie === undefined || byCookie.inode !== entry.inode || byCookie.name !== name) problems.push(`entry ${JSON.stringify(name)} in ${directory}: cookie index differs`)
    if (parent !== undefined && entry.cookie >= parent.nextCookie) problems.push(`entry ${JSON.stringify(name)} in ${directory}: cookie ${entry.cookie} not yet handed out`)
  }
  for (const [at, byCookie] of tally.cookies) {
    const directory = at.slice(0, at.indexOf('/'))
    const cookie = Number(at.slice(at.indexOf('/') + 1))
    const byName = tally.names.get(`${directory}/${byCookie.name}`)
    if (byName === undefined || byName.cookie !== cookie) problems.push(`cookie ${cookie} in ${directory} (${JSON.stringify(byCookie.name)}): no such entry by name`)
  }
}

function checkInodes(tally: Tally, problems: string[]): void {
  const reachable = new Set<number>([rootInode])
  const queue = [rootInode]
  while (queue.length > 0) {
    for (const child of tally.children.get(queue.pop() as number) ?? []) {
      if (reachable.has(child)) continue
      reachable.add(child)
      queue.push(child)
    }
  }
  if (!tally.inodes.has(rootInode)) problems.push('the root directory is missing')
  for (const [inode, record] of tally.inodes) {
    const links = tally.links.get(inode) ?? 0
    if (record.type === 'directory') {
      const expected = 2 + (tally.subdirectoriesOf.get(inode) ?? 0)
      if (record.nlink !== expected) problems.push(`directory ${inode}: nlink ${record.nlink}, expected ${expected}`)
      if (record.entryCount !== (tally.entriesOf.get(inode) ?? 0)) problems.push(`directory ${inode}: entry count ${record.entryCount}, has ${tally.entriesOf.get(inode) ?? 0}`)
      if (inode !== rootInode && links !== 1) problems.push(`directory ${inode}: named ${links} times`)
    } else if (record.nlink !== links) {
      problems.push(`inode ${inode}: nlink ${record.nlink}, named ${links} times`)
    }
    if (!reachable.has(inode) && !(record.nlink === 0 && tally.orphans.has(inode))) problems.push(`inode ${inode}: unreachable and not an orphan (leaked)`)
    if ((tally.extentEnds.get(inode) ?? 0) > record.sizeBytes && !tally.trims.has(inode)) problems.push(`inode ${inode}: extents past its size and no trim pending`)
    if (record.allocatedBytes !== (tally.allocated.get(inode) ?? 0)) problems.push(`inode ${inode}: allocated ${record.allocatedBytes}, extents hold ${tally.allocated.get(inode) ?? 0}`)
  }
  for (const inode of tally.orphans) {
    if (tally.inodes.get(inode)?.nlink !== 0 && tally.inodes.has(inode)) problems.push(`orphan ${inode} still has links`)
  }
  for (const inode of tally.allocated.keys()) if (!tally.inodes.has(inode)) problems.push(`extents of a missing inode ${inode}`)
}

async function checkChunks(ctx: FilesContext, tx: ReadTx, fsId: FileSystemId, tally: Tally, problems: string[]): Promise<{ count: number; storedBytes: number }> {
  let count = 0
  let storedBytes = 0
  const counted = new Set<string>()
  for await (const entry of scanAll(tx, chunkRefRange(fsId))) {
    const id = chunkIdFrom(Buffer.from(decodeKey(entry.key).at(-1) as Uint8Array))
    const hex = chunkIdHex(id)
    const ref = decodeChunkRef(entry.value, id)
    count += 1
    storedBytes += ref.storedBytes
    counted.add(hex)
    if (ref.count !== (tally.chunkUses.get(hex) ?? 0)) problems.push(`chunk ${hex}: counted ${ref.count}, used by ${tally.chunkUses.get(hex) ?? 0} extents`)
    if ((await ctx.chunkStore.locate(id)) === undefined) problems.push(`chunk ${hex}: counted but not stored`)
    if ((await ctx.chunkStore.refCount(tx, id)) < 1) problems.push(`chunk ${hex}: counted but the chunk store holds no reference`)
  }
  for (const hex of tally.chunkUses.keys()) if (!counted.has(hex)) problems.push(`chunk ${hex}: used by extents but not counted`)
  return { count, storedBytes }
}

async function checkUsage(tx: ReadTx, fsId: FileSystemId, tally: Tally, storedBytes: number, problems: string[]): Promise<void> {
  const stored = await tx.get(usageKey(fsId))
  const usage = stored === undefined ? emptyUsage() : decodeUsage(stored, 'usage')
  const actual: UsageCounters = emptyUsage()
  for (const record of tally.inodes.values()) {
    if (record.type === 'directory') actual.directories += 1
    else if (record.type === 'symlink') actual.symlinks += 1
    else {
      actual.files += 1
      if (record.storageClass === 'standard') {
        actual.logicalStandard += record.sizeBytes
        actual.allocatedStandard += record.allocatedBytes
      } else {
        actual.logicalInfrequentAccess += record.sizeBytes
        actual.allocatedInfrequentAccess += record.allocatedBytes
      }
    }
  }
  actual.storedBytes = storedBytes
  for (const name of Object.keys(actual) as Array<keyof UsageCounters>) {
    if (usage[name] !== actual[name]) problems.push(`usage ${name}: recorded ${usage[name]}, actual ${actual[name]}`)
  }
}

// Creating, changing, describing and deleting file systems (docs/format/files.md 2.2, 8).
//
// A new file system gets a random id, the smallest free number and a root directory (inode 1)
// in one transaction. Deleting one hides it at once (state 'deleting', name freed) and a worker
// removes its records page by page, dropping one chunk reference per chunk record; an
// interrupted deletion resumes at the next open.
import { isIP } from 'node:net'
import { fileLimits, StoreError, type ChunkId, chunkIdFrom } from '../lib/index.ts'
import { decodeKey, scanAll } from '../meta/index.ts'
import type { ExportPolicy, FileSystemId } from './api.ts'
import { timestampOf } from './change.ts'
import { rootInode, type FilesContext } from './context.ts'
import { checkFileSystemName, newFileSystemId } from './handles.ts'
import { allocatorKey, fileSystemRange, initKey, nameKey, systemKey, systemRange, usageKey } from './keys.ts'
import { Mutation } from './mutation.ts'
import {
  decodeFileSystem, decodeName, decodeUsage, emptyUsage, encodeCounter, encodeFileSystem, encodeName, type FileSystemRecord, type InodeRecord,
} from './records.ts'
import type { FileSystemChanges, FileSystemDescription, FileSystemOptions, LifecyclePolicy, FileSystemUsageReport } from './types.ts'

export const defaultFileSystemName = 'default'

export const defaultExportPolicy: ExportPolicy = {
  readOnly: false, rootSquash: false, anonymousUid: 65534, anonymousGid: 65534, allowedClients: [],
}

export const defaultLifecycle: LifecyclePolicy = { transitionToIaAfterDays: null, transitionToStandardOnAccess: false }

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message, { subject: 'filesystem' })
}

function checkClient(rule: unknown): string {
  if (typeof rule !== 'string') throw invalid('allowed clients are strings (addresses or CIDR blocks)')
  const [address, prefix, extra] = rule.split('/')
  const family = isIP(address ?? '')
  const maxPrefix = family === 6 ? 128 : 32
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix)
  if (family === 0 || !prefixOk || extra !== undefined) throw invalid(`allowed client ${JSON.stringify(rule)} is not an IPv4/IPv6 address or CIDR block`)
  return rule
}

function checkId(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw invalid(`${name} must be an integer 0..4294967295`)
  return value
}

export function exportPolicyOf(base: ExportPolicy, changes: Partial<ExportPolicy> | undefined): ExportPolicy {
  const merged = { ...base, ...changes }
  for (const name of ['readOnly', 'rootSquash'] as const) if (typeof merged[name] !== 'boolean') throw invalid(`${name} must be true or false`)
  if (!Array.isArray(merged.allowedClients)) throw invalid('allowedClients must be a list')
  return {
    readOnly: merged.readOnly,
    rootSquash: merged.rootSquash,
    anonymousUid: checkId(merged.anonymousUid, 'anonymousUid'),
    anonymousGid: checkId(merged.anonymousGid, 'anonymousGid'),
    allowedClients: Object.freeze(merged.allowedClients.map(checkClient)),
  }
}

export function lifecycleOf(base: LifecyclePolicy, changes: Partial<LifecyclePolicy> | undefined): LifecyclePolicy {
  const merged = { ...base, ...changes }
  const days = merged.transitionToIaAfterDays
  if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > fileLimits.lifecycleDaysMax)) {
    throw invalid(`transitionToIaAfterDays must be null or 1..${fileLimits.lifecycleDaysMax}`)
  }
  if (typeof merged.transitionToStandardOnAccess !== 'boolean') throw invalid('transitionToStandardOnAccess must be true or false')
  return { transitionToIaAfterDays: days, transitionToStandardOnAccess: merged.transitionToStandardOnAccess }
}

function rootRecord(ctx: FilesContext, options: FileSystemOptions): InodeRecord {
  const now = timestampOf(ctx.clock.nowMs())
  const root = options.rootDirectory
  const mode = root?.mode ?? 0o755
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw invalid('rootDirectory.mode must be within 0o7777')
  return {
    type: 'directory', storageClass: 'standard', mode, nlink: 2,
    uid: checkId(root?.uid ?? 0, 'rootDirectory.uid'), gid: checkId(root?.gid ?? 0, 'rootDirectory.gid'),
    sizeBytes: 0, allocatedBytes: 0, change: ctx.changes.next(),
    accessTime: now, modifyTime: now, changeTime: now, createTime: now,
    parent: rootInode, nextCookie: 3, entryCount: 0, exclusiveVerifier: undefined, target: '',
  }
}

export async function loadFileSystems(ctx: FilesContext): Promise<FileSystemRecord[]> {
  return ctx.meta.read(async (tx) => {
    const records: FileSystemRecord[] = []
    for await (const entry of scanAll(tx, systemRange)) records.push(decodeFileSystem(entry.value, 'file system record'))
    return records
  })
}

export async function createFileSystem(ctx: FilesContext, name: string, options: FileSystemOptions = {}): Promise<FileSystemRecord> {
  checkFileSystemName(name)
  const exportPolicy = exportPolicyOf(defaultExportPolicy, options.exportPolicy)
  const lifecycle = lifecycleOf(defaultLifecycle, options.lifecycle)
  const record = await ctx.meta.transact(async (tx) => {
    if ((await tx.get(nameKey(name))) !== undefined) throw new StoreError('ALREADY_EXISTS', `a file system named ${name} exists`, { subject: 'filesystem' })
    const numbers = new Set<number>()
    let count = 0
    for await (const entry of scanAll(tx, systemRange)) {
      const existing = decodeFileSystem(entry.value, 'file system record')
      count += 1
      if (existing.state === 'available') numbers.add(existing.number)
    }
    if (count >= fileLimits.fileSystemsMax) throw new StoreError('LIMIT_EXCEEDED', `at most ${fileLimits.fileSystemsMax} file systems`, { subject: 'filesystem' })
    let number = 1
    while (numbers.has(number)) number += 1
    let id = newFileSystemId(ctx.random)
    while ((await tx.get(systemKey(id))) !== undefined) id = newFileSystemId(ctx.random)
    const created: FileSystemRecord = { id, name, number, createdMs: ctx.clock.nowMs(), state: 'available', exportPolicy, lifecycle }
    tx.put(systemKey(id), encodeFileSystem(created))
    tx.put(nameKey(name), encodeName(id))
    tx.put(allocatorKey(id), encodeCounter(rootInode))
    const m = new Mutation(tx, id, ctx.chunkStore)
    m.putInode(rootInode, undefined, rootRecord(ctx, options))
    await m.finish()
    return created
  })
  ctx.fileSystems.set(record)
  ctx.log('files.filesystem-created', { id: record.id, name, number: record.number })
  return record
}

/** Create `default` unless it was created once before (then deleting it stays final). */
export async function ensureDefault(ctx: FilesContext): Promise<void> {
  if ((await ctx.meta.read((tx) => tx.get(initKey))) !== undefined) return
  try {
    await createFileSystem(ctx, defaultFileSystemName)
  } catch (error) {
    if (!(error instanceof StoreError && error.code === 'ALREADY_EXISTS')) throw error
  }
  await ctx.meta.transact(async (tx) => tx.put(initKey, Buffer.alloc(0)))
}

export function findRecord(ctx: FilesContext, nameOrId: string): FileSystemRecord {
  const record = ctx.fileSystems.byNameOrId(nameOrId)
  if (record === undefined) throw new StoreError('NOT_FOUND', `no file system ${JSON.stringify(nameOrId)}`, { subject: 'filesystem' })
  return record
}

export async function updateFileSystem(ctx: FilesContext, nameOrId: string, changes: FileSystemChanges): Promise<FileSystemRecord> {
  const current = findRecord(ctx, nameOrId)
  if (changes.name !== undefined) checkFileSystemName(changes.name)
  const updated = await ctx.meta.transact(async (tx) => {
    const stored = await tx.get(systemKey(current.id))
    const before = stored === undefined ? undefined : decodeFileSystem(stored, 'file system record')
    if (before === undefined || before.state !== 'available') throw new StoreError('NOT_FOUND', `no file system ${JSON.stringify(nameOrId)}`, { subject: 'filesystem' })
    const name = changes.name ?? before.name
    if (name !== before.name) {
      if ((await tx.get(nameKey(name))) !== undefined) throw new StoreError('ALREADY_EXISTS', `a file system named ${name} exists`, { subject: 'filesystem' })
      tx.delete(nameKey(before.name))
      tx.put(nameKey(name), encodeName(before.id))
    }
    const after: FileSystemRecord = {
      ...before, name,
      exportPolicy: exportPolicyOf(before.exportPolicy, changes.exportPolicy),
      lifecycle: lifecycleOf(before.lifecycle, changes.lifecycle),
    }
    tx.put(systemKey(before.id), encodeFileSystem(after))
    return after
  })
  ctx.fileSystems.set(updated)
  return updated
}

/** Hide the file system at once; the caller then purges it (purgeFileSystem). */
export async function markDeleted(ctx: FilesContext, nameOrId: string): Promise<FileSystemRecord> {
  const current = findRecord(ctx, nameOrId)
  const deleting = await ctx.meta.transact(async (tx) => {
    const stored = await tx.get(systemKey(current.id))
    const before = stored === undefined ? undefined : decodeFileSystem(stored, 'file system record')
    if (before === undefined || before.state !== 'available') throw new StoreError('NOT_FOUND', `no file system ${JSON.stringify(nameOrId)}`, { subject: 'filesystem' })
    const nameOwner = await tx.get(nameKey(before.name))
    if (nameOwner !== undefined && decodeName(nameOwner, 'file system name') === before.id) tx.delete(nameKey(before.name))
    const after: FileSystemRecord = { ...before, state: 'deleting' }
    tx.put(systemKey(before.id), encodeFileSystem(after))
    return after
  })
  ctx.fileSystems.set(deleting)
  ctx.active.forgetFileSystem(deleting.id)
  ctx.log('files.filesystem-deleting', { id: deleting.id, name: deleting.name })
  return deleting
}

/** Remove every record of a deleting file system, page by page; the record itself goes last. */
export async function purgeFileSystem(ctx: FilesContext, fsId: FileSystemId): Promise<void> {
  const range = fileSystemRange(fsId)
  for (;;) {
    const done = await ctx.meta.transact(async (tx) => {
      const page = await tx.scan({ ...range, limit: ctx.tuning.reclaimPageKeys })
      const drops: ChunkId[] = []
      for (const entry of page) {
        const parts = decodeKey(entry.key)
        const chunk = parts[4]
        if (parts[3] === 'r' && chunk instanceof Uint8Array) drops.push(chunkIdFrom(Buffer.from(chunk)))
        tx.delete(entry.key)
      }
      if (drops.length > 0) await ctx.chunkStore.dropRefs(tx, drops)
      if (page.length < ctx.tuning.reclaimPageKeys) tx.delete(systemKey(fsId))
      return page.length < ctx.tuning.reclaimPageKeys
    })
    if (done) break
  }
  ctx.fileSystems.forget(fsId)
  ctx.log('files.filesystem-deleted', { id: fsId })
}

export async function usageReport(ctx: FilesContext, fsId: FileSystemId): Promise<FileSystemUsageReport> {
  const stored = await ctx.meta.read((tx) => tx.get(usageKey(fsId)))
  const usage = stored === undefined ? emptyUsage() : decodeUsage(stored, `usage ${fsId}`)
  return {
    files: usage.files,
    directories: usage.directories,
    symlinks: usage.symlinks,
    standard: { logicalBytes: usage.logicalStandard, allocatedBytes: usage.allocatedStandard },
    infrequentAccess: { logicalBytes: usage.logicalInfrequentAccess, allocatedBytes: usage.allocatedInfrequentAccess },
    storedBytes: usage.storedBytes,
  }
}

export async function describe(ctx: FilesContext, record: FileSystemRecord): Promise<FileSystemDescription> {
  return {
    id: record.id, name: record.name, number: record.number, createdMs: record.createdMs,
    exportPolicy: record.exportPolicy, lifecycle: record.lifecycle, usage: await usageReport(ctx, record.id),
    exportPaths: [`/${record.name}`, `/${record.id}`],
  }
}

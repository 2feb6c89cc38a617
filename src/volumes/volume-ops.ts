// Volume management: create (empty or from a snapshot), describe, list, modify (grow, type,
// IOPS, throughput, multi-attach) and delete. Input is validated here (volume-types.ts);
// below, the live volume and the records only assert.
//
// Durability: a new head file is created and fsynced (with its directory) before the record
// commits, so a record never names a missing head; a crash in between leaves an orphan head
// that recovery removes. Delete marks the record 'deleting' first and finishes idempotently
// (recovery.ts resumes it). Grow extends the head durably before the record says the new size.
import { GiB, StoreError, type KeyDomainId } from '../lib/index.ts'
import { decodeKey, scanAll } from '../meta/index.ts'
import type { VolumeContext } from './context.ts'
import { HeadFile } from './head.ts'
import { headKeyOf } from './head-key.ts'
import { newVolumeId, parseSnapshotId, type SnapshotId, type VolumeId } from './ids.ts'
import { volumeInfo, type AttachmentInfo, type HydrationInfo, type VolumeInfo } from './info.ts'
import { decodeVolumeRecord, encodeVolumeRecord, extentPageRange, holdKey, sessionKey, volumeKey, volumeRange, type VolumeRecord } from './records.ts'
import { purgeIfUnheld } from './snapshot-purge.ts'
import { startHydration } from './hydrator.ts'
import { parseVolumeType, performanceOf, typeTakes, validateVolumeSpec, type VolumeSpec } from './volume-types.ts'

export interface CreateVolumeInput {
  /** Default: the snapshot's size (required without a snapshot). */
  sizeBytes?: number
  type?: string
  iops?: number
  throughputMiBps?: number
  encrypted?: boolean
  multiAttach?: boolean
  snapshotId?: string
  /** Fetch all snapshot data into the head in the background (fast snapshot restore). */
  eagerHydration?: boolean
  description?: string
}

export interface ModifyVolumeInput {
  sizeBytes?: number
  type?: string
  iops?: number
  throughputMiBps?: number
  multiAttach?: boolean
  description?: string
}

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message, { subject: 'volume' })
}

/** The snapshot to restore and the key domain of the new volume. */
async function restoreSource(context: VolumeContext, input: CreateVolumeInput) {
  if (input.snapshotId === undefined) {
    if (input.sizeBytes === undefined) throw invalid('The request must contain the parameter size (or a snapshot to restore).')
    return { sizeBytes: input.sizeBytes, snapshotId: null, domain: undefined, rehashBase: false }
  }
  const snapshotId = parseSnapshotId(input.snapshotId)
  const snapshot = await context.readSnapshot(snapshotId)
  if (snapshot.state === 'deleted') throw new StoreError('NOT_FOUND', `The snapshot '${snapshotId}' does not exist.`, { subject: 'snapshot' })
  if (snapshot.state !== 'completed') throw new StoreError('INVALID_STATE', `Snapshot ${snapshotId} is ${snapshot.state}; only completed snapshots can be restored.`, { subject: 'snapshot' })
  const sizeBytes = input.sizeBytes ?? snapshot.sizeBytes
  if (sizeBytes < snapshot.sizeBytes) {
    throw invalid(`Volume of ${sizeBytes / GiB}GiB is smaller than snapshot ${snapshotId}, expect size >= ${snapshot.sizeBytes / GiB}GiB`)
  }
  if (snapshot.encrypted && input.encrypted === false) throw invalid(`Snapshot ${snapshotId} is encrypted; volumes created from it are encrypted too.`)
  // An encrypted snapshot's chunks only make sense in its domain; a plain snapshot restored
  // encrypted gets a new domain and every extent is re-hashed into it by the next snapshot.
  const domain = snapshot.encrypted ? (snapshot.keyDomain as KeyDomainId) : undefined
  return { sizeBytes, snapshotId, domain, rehashBase: !snapshot.encrypted && input.encrypted === true }
}

export async function createVolume(context: VolumeContext, input: CreateVolumeInput): Promise<VolumeInfo> {
  context.checkOpen()
  const source = await restoreSource(context, input)
  const spec = validateVolumeSpec({ sizeBytes: source.sizeBytes, type: input.type, iops: input.iops, throughputMiBps: input.throughputMiBps, multiAttach: input.multiAttach })
  const encrypted = source.domain !== undefined || input.encrypted === true
  const domain = source.domain ?? (encrypted ? await context.options.keyRing.createDomain() : (0 as KeyDomainId))
  const xtsKey = encrypted ? headKeyOf(await context.options.keyRing.keysFor(domain)) : undefined
  const { io, clock, random } = context.options
  const id = newVolumeId(random)
  const record: VolumeRecord = {
    id,
    ...spec,
    encrypted,
    keyDomain: domain,
    state: 'available',
    createdMs: clock.nowMs(),
    sourceSnapshotId: source.snapshotId,
    baseSnapshotId: source.snapshotId,
    rehashBase: source.rehashBase,
    eagerHydration: input.eagerHydration === true && source.snapshotId !== null,
    description: input.description ?? '',
  }
  await io.mkdirp(context.options.volumesDir, 0o700)
  const head = await HeadFile.create(io, context.headPath(id), spec.sizeBytes, xtsKey)
  await head.close()
  try {
    await context.meta.transact(async (tx) => {
      if ((await tx.get(volumeKey(id))) !== undefined) throw new StoreError('ALREADY_EXISTS', `volume ${id} already exists`, { subject: 'volume' })
      if (source.snapshotId !== null) {
        const snapshot = await context.readSnapshot(source.snapshotId, tx)
        if (snapshot.state !== 'completed') throw new StoreError('INVALID_STATE', `Snapshot ${source.snapshotId} is ${snapshot.state}.`, { subject: 'snapshot' })
        tx.put(holdKey(source.snapshotId, id), Buffer.alloc(0))
      }
      tx.put(volumeKey(id), encodeVolumeRecord(record))
    })
  } catch (error) {
    await io.unlink(context.headPath(id)).catch(() => undefined)
    throw error
  }
  context.log('volume.created', { volumeId: id, sizeBytes: spec.sizeBytes, type: spec.type, encrypted, sourceSnapshotId: source.snapshotId })
  if (record.eagerHydration) startHydration(context, record)
  return describeRecord(context, record)
}

export async function describeVolume(context: VolumeContext, id: VolumeId): Promise<VolumeInfo> {
  context.checkOpen()
  return describeRecord(context, await context.readVolume(id))
}

export async function listVolumes(context: VolumeContext): Promise<VolumeInfo[]> {
  context.checkOpen()
  const records = await context.meta.read(async (tx) => {
    const found: VolumeRecord[] = []
    for await (const entry of scanAll(tx, volumeRange)) found.push(decodeVolumeRecord(entry.value, decodeKey(entry.key)[2] as VolumeId))
    return found
  })
  return Promise.all(records.map((record) => describeRecord(context, record, { lazyHydration: false })))
}

export function attachmentsOf(context: VolumeContext, name: string): AttachmentInfo[] {
  return [...(context.attachments.get(name)?.entries() ?? [])].map(([client, connections]) => ({ client, connections }))
}

async function hydrationOf(context: VolumeContext, record: VolumeRecord, open: boolean): Promise<HydrationInfo | null> {
  if (record.sourceSnapshotId === null || record.baseSnapshotId === null || record.state === 'deleting') return null
  const opened = context.openedLive(record.id)
  if (opened === undefined && !open) return null
  const live = await (opened ?? context.live(record))
  const remainingExtents = await live.remoteExtentCount()
  const base = await context.readSnapshot(record.baseSnapshotId).catch(() => undefined)
  const total = Math.max(remainingExtents, base?.dataExtents ?? remainingExtents)
  const state = remainingExtents === 0 ? 'hydrated' : context.hydrations.has(record.id) ? 'hydrating' : 'lazy'
  return { state, remainingExtents, percent: total === 0 ? 100 : Math.floor((1 - remainingExtents / total) * 1000) / 10 }
}

async function describeRecord(context: VolumeContext, record: VolumeRecord, options = { lazyHydration: true }): Promise<VolumeInfo> {
  return volumeInfo(record, {
    attachments: attachmentsOf(context, record.id),
    snapshotInProgress: context.snapshots.get(record.id)?.job.snapshotId ?? null,
    hydration: await hydrationOf(context, record, options.lazyHydration),
  })
}

/** The spec after a modification: unspecified IOPS / throughput keep their values where the new type takes them. */
function modifiedSpec(record: VolumeRecord, input: ModifyVolumeInput): VolumeSpec {
  if (input.sizeBytes !== undefined && input.sizeBytes < record.sizeBytes) throw invalid(`New size cannot be smaller than existing size (${record.sizeBytes / GiB}GiB).`)
  const type = parseVolumeType(input.type ?? record.type)
  const takes = typeTakes(type)
  const spec = validateVolumeSpec({
    sizeBytes: input.sizeBytes ?? record.sizeBytes,
    type,
    iops: input.iops ?? (takes.iops && record.iops !== null ? record.iops : undefined),
    throughputMiBps: input.throughputMiBps ?? (takes.throughput && record.throughputMiBps !== null ? record.throughputMiBps : undefined),
    multiAttach: input.multiAttach ?? (takes.multiAttach && record.multiAttach),
  })
  return spec
}

export async function modifyVolume(context: VolumeContext, id: VolumeId, input: ModifyVolumeInput): Promise<VolumeInfo> {
  context.checkOpen()
  return context.locks.run(id, async () => {
    const record = await context.readVolume(id)
    if (record.state === 'deleting') throw new StoreError('INVALID_STATE', `Volume ${id} is being deleted.`, { subject: 'volume' })
    const spec = modifiedSpec(record, input)
    if (record.multiAttach && !spec.multiAttach && attachmentsOf(context, id).length > 1) {
      throw new StoreError('INVALID_STATE', `Volume ${id} is attached by several clients; detach all but one before disabling Multi-Attach.`, { subject: 'volume' })
    }
    if (spec.sizeBytes > record.sizeBytes) await (await context.live(record)).grow(spec.sizeBytes)
    const updated = await context.meta.transact(async (tx) => {
      const current = await context.readVolume(id, tx)
      const next: VolumeRecord = { ...current, ...spec, description: input.description ?? current.description }
      tx.put(volumeKey(id), encodeVolumeRecord(next))
      return next
    })
    context.throttleOf(id)?.reconfigure(performanceOf(updated))
    context.log('volume.modified', { volumeId: id, sizeBytes: updated.sizeBytes, type: updated.type, iops: updated.iops, throughputMiBps: updated.throughputMiBps })
    return describeRecord(context, updated)
  })
}

export async function deleteVolume(context: VolumeContext, id: VolumeId, options: { force?: boolean } = {}): Promise<void> {
  context.checkOpen()
  await context.locks.run(id, async () => {
    const record = await context.readVolume(id)
    const attached = attachmentsOf(context, id)
    if (attached.length > 0 && options.force !== true) {
      throw new StoreError('INVALID_STATE', `Volume ${id} is currently attached to ${attached.map((a) => a.client).join(', ')}; detach it first or delete with force.`, { subject: 'volume' })
    }
    await context.snapshots.get(id)?.settled
    await context.hydrations.get(id)?.stop()
    if (record.state !== 'deleting') {
      await context.meta.transact(async (tx) => {
        const current = await context.readVolume(id, tx)
        tx.put(volumeKey(id), encodeVolumeRecord({ ...current, state: 'deleting' }))
      })
    }
    context.attachments.delete(id)
    await context.closeLive(id)
    await finishDeletingVolume(context, { ...record, state: 'deleting' })
  })
}

/** Remove a 'deleting' volume's pages, record, hold and head (idempotent; recovery resumes it). */
export async function finishDeletingVolume(context: VolumeContext, record: VolumeRecord): Promise<void> {
  const { meta, io } = context.options
  for (;;) {
    const more = await meta.transact(async (tx) => {
      const pages = await tx.scan({ ...extentPageRange(record.id), limit: 256 })
      for (const page of pages) tx.delete(page.key)
      return pages.length === 256
    })
    if (!more) break
  }
  await meta.transact(async (tx) => {
    tx.delete(volumeKey(record.id))
    tx.delete(sessionKey(record.id))
    if (record.baseSnapshotId !== null) tx.delete(holdKey(record.baseSnapshotId, record.id))
  })
  await io.unlink(context.headPath(record.id)).catch((error: unknown) => {
    if ((error as StoreError).code !== 'NOT_FOUND') throw error
  })
  await io.syncDir(context.options.volumesDir)
  if (record.baseSnapshotId !== null) await purgeIfUnheld(context, record.baseSnapshotId as SnapshotId)
  context.log('volume.deleted', { volumeId: record.id })
}

// VolumeService: EBS semantics without NBD. Volumes and snapshots are managed here, and the
// service is the ExportProvider the NBD server serves (src/volumes/api.ts).
//
// Lifecycle: open() recovers (recovery.ts) and starts nothing else; close() stops hydration and
// running snapshots (a pending one is finished as 'error' by the next open), flushes and closes
// every live volume. Every call after close() is StoreError CLOSED.
// The MetaStore and ChunkStore belong to the caller, who closes them after this service.
import { join } from 'node:path'
import { StoreError } from '../lib/index.ts'
import type { BlockExport, ExportProvider, ExportSummary } from './api.ts'
import { VolumeContext, type VolumeServiceOptions } from './context.ts'
import { describeExport, listExports, openExport } from './exports.ts'
import { startHydration } from './hydrator.ts'
import { parseSnapshotId, parseVolumeId } from './ids.ts'
import type { SnapshotInfo, VolumeInfo } from './info.ts'
import { recoverVolumes, type VolumeRecoveryReport } from './recovery.ts'
import { createSnapshot, deleteSnapshot, describeSnapshot, diffSnapshots, listSnapshots, waitForSnapshot, type ChangedBlocks, type DiffOptions } from './snapshot-ops.ts'
import { createVolume, deleteVolume, describeVolume, listVolumes, modifyVolume, type CreateVolumeInput, type ModifyVolumeInput } from './volume-ops.ts'

export interface CloneVolumeInput extends Omit<CreateVolumeInput, 'snapshotId'> {}

export class VolumeService implements ExportProvider {
  readonly #context: VolumeContext
  /** What recovery found and did at open. */
  readonly recovery: VolumeRecoveryReport
  #closing: Promise<void> | undefined

  private constructor(context: VolumeContext, recovery: VolumeRecoveryReport) {
    this.#context = context
    this.recovery = recovery
  }

  static async open(options: VolumeServiceOptions): Promise<VolumeService> {
    const context = new VolumeContext(options)
    const recovery = await recoverVolumes(context)
    return new VolumeService(context, recovery)
  }

  /** <data-dir>/volumes: where the head files live. */
  static volumesDirOf(dataDir: string): string {
    return join(dataDir, 'volumes')
  }

  // ---- volumes ----

  createVolume(input: CreateVolumeInput): Promise<VolumeInfo> {
    return createVolume(this.#context, input)
  }

  listVolumes(): Promise<VolumeInfo[]> {
    return listVolumes(this.#context)
  }

  describeVolume(id: string): Promise<VolumeInfo> {
    return describeVolume(this.#context, parseVolumeId(id))
  }

  modifyVolume(id: string, input: ModifyVolumeInput): Promise<VolumeInfo> {
    return modifyVolume(this.#context, parseVolumeId(id), input)
  }

  deleteVolume(id: string, options: { force?: boolean } = {}): Promise<void> {
    return deleteVolume(this.#context, parseVolumeId(id), options)
  }

  /** Snapshot the volume, restore the snapshot into a new volume, and hide the snapshot. */
  async cloneVolume(id: string, input: CloneVolumeInput = {}, signal?: AbortSignal): Promise<VolumeInfo> {
    const source = await this.describeVolume(id)
    const snapshot = await createSnapshot(this.#context, source.volumeId, { description: `clone of ${source.volumeId}` })
    const done = await waitForSnapshot(this.#context, snapshot.snapshotId, signal)
    if (done.state !== 'completed') throw new StoreError('IO_ERROR', `cloning ${id}: its snapshot failed: ${done.error ?? 'unknown error'}`, { subject: 'volume' })
    // Fields the caller left undefined keep the source's values.
    const overrides = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as CloneVolumeInput
    const clone = await createVolume(this.#context, {
      type: source.type,
      iops: source.iops ?? undefined,
      throughputMiBps: source.throughputMiBps ?? undefined,
      multiAttach: source.multiAttach,
      encrypted: source.encrypted,
      description: `clone of ${source.volumeId}`,
      ...overrides,
      snapshotId: snapshot.snapshotId,
    })
    // The clone holds the snapshot as its base, so this only hides it; it goes with its last holder.
    await deleteSnapshot(this.#context, snapshot.snapshotId)
    return clone
  }

  /** Start eager hydration of a volume restored from a snapshot (no-op when hydrated). */
  async hydrateVolume(id: string): Promise<VolumeInfo> {
    const record = await this.#context.readVolume(parseVolumeId(id))
    startHydration(this.#context, record)
    return describeVolume(this.#context, record.id)
  }

  // ---- snapshots ----

  createSnapshot(volumeId: string, options: { description?: string } = {}): Promise<SnapshotInfo> {
    return createSnapshot(this.#context, parseVolumeId(volumeId), options)
  }

  waitForSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    return waitForSnapshot(this.#context, parseSnapshotId(id), signal)
  }

  listSnapshots(filter: { volumeId?: string } = {}): Promise<SnapshotInfo[]> {
    return listSnapshots(this.#context, { volumeId: filter.volumeId === undefined ? undefined : parseVolumeId(filter.volumeId) })
  }

  describeSnapshot(id: string): Promise<SnapshotInfo> {
    return describeSnapshot(this.#context, parseSnapshotId(id))
  }

  deleteSnapshot(id: string): Promise<void> {
    return deleteSnapshot(this.#context, parseSnapshotId(id))
  }

  diffSnapshots(firstId: string, secondId: string, options: DiffOptions = {}): Promise<ChangedBlocks> {
    return diffSnapshots(this.#context, parseSnapshotId(firstId), parseSnapshotId(secondId), options)
  }

  // ---- ExportProvider ----

  list(): Promise<ExportSummary[]> {
    return listExports(this.#context)
  }

  open(name: string, clientKey: string): Promise<BlockExport> {
    return openExport(this.#context, name, clientKey)
  }

  describe(name: string): ReturnType<ExportProvider['describe']> {
    return describeExport(this.#context, name)
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeOnce()
    return this.#closing
  }

  async #closeOnce(): Promise<void> {
    const context = this.#context
    context.closing.abort(new Error('volume service closing'))
    await Promise.allSettled([...context.hydrations.values()].map((hydration) => hydration.stop()))
    await Promise.allSettled([...context.snapshots.values()].map((running) => running.settled))
    const results = await Promise.allSettled(context.openIds().map((id) => context.closeLive(id)))
    const failed = results.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  }
}

// What the volume service answers about volumes and snapshots: plain JSON-able objects with
// units in their names, for the admin API, the CLI and tests. Times are ISO 8601 strings.
import { GiB, volumeLimits } from '../lib/index.ts'
import type { SnapshotId, VolumeId } from './ids.ts'
import type { SnapshotRecord, VolumeRecord } from './records.ts'
import { performanceOf, type VolumeType } from './volume-types.ts'

export interface AttachmentInfo {
  client: string
  connections: number
}

export interface HydrationInfo {
  /** 'lazy': extents are fetched on first use; 'hydrating': eagerly in the background; 'hydrated': all in the head. */
  state: 'lazy' | 'hydrating' | 'hydrated'
  remainingExtents: number
  percent: number
}

export interface VolumeInfo {
  volumeId: VolumeId
  sizeBytes: number
  sizeGiB: number
  type: VolumeType
  /** Provisioned values (null where the type derives them from size). */
  iops: number | null
  throughputMiBps: number | null
  performance: { baselineIops: number; burstIops: number; baselineThroughputMiBps: number; burstThroughputMiBps: number }
  multiAttach: boolean
  encrypted: boolean
  /** 'in-use' while an export is attached. */
  state: 'available' | 'in-use' | 'deleting'
  createdAt: string
  description: string
  sourceSnapshotId: SnapshotId | null
  /** The snapshot the volume's unchanged extents are relative to (its last snapshot, or its source). */
  baseSnapshotId: SnapshotId | null
  snapshotInProgress: SnapshotId | null
  attachments: AttachmentInfo[]
  hydration: HydrationInfo | null
  exportName: string
}

export interface SnapshotInfo {
  snapshotId: SnapshotId
  volumeId: VolumeId
  /** Logical size: the volume's size when the snapshot was taken. */
  volumeSizeBytes: number
  state: 'pending' | 'completed' | 'error'
  /** 0..100. */
  progressPercent: number
  startTime: string
  completedAt: string | null
  description: string
  encrypted: boolean
  parentSnapshotId: SnapshotId | null
  /** Extents hashed for this snapshot (changed since its parent). */
  changedBytes: number
  /** Bytes of non-zero extents in the snapshot. */
  dataBytes: number
  /** Bytes the chunk store newly stored for it (after dedup and compression). */
  storedBytes: number
  /** Bytes of chunks no other snapshot (or object) references; describe only, else null. */
  uniqueBytes: number | null
  error: string | null
}

export function volumeInfo(
  record: VolumeRecord,
  extra: { attachments: AttachmentInfo[]; snapshotInProgress: SnapshotId | null; hydration: HydrationInfo | null },
): VolumeInfo {
  const performance = performanceOf(record)
  return {
    volumeId: record.id,
    sizeBytes: record.sizeBytes,
    sizeGiB: record.sizeBytes / GiB,
    type: record.type,
    iops: record.iops,
    throughputMiBps: record.throughputMiBps,
    performance: {
      baselineIops: performance.baselineIops,
      burstIops: performance.burstIops,
      baselineThroughputMiBps: performance.baselineThroughputMiBps,
      burstThroughputMiBps: performance.burstThroughputMiBps,
    },
    multiAttach: record.multiAttach,
    encrypted: record.encrypted,
    state: record.state === 'deleting' ? 'deleting' : extra.attachments.length > 0 ? 'in-use' : 'available',
    createdAt: new Date(record.createdMs).toISOString(),
    description: record.description,
    sourceSnapshotId: record.sourceSnapshotId,
    baseSnapshotId: record.baseSnapshotId,
    snapshotInProgress: extra.snapshotInProgress,
    attachments: extra.attachments,
    hydration: extra.hydration,
    exportName: record.id,
  }
}

export function snapshotInfo(record: SnapshotRecord, extra: { progress: number | undefined; uniqueBytes: number | null }): SnapshotInfo {
  const extentBytes = volumeLimits.extentBytes
  const state = record.state === 'deleted' ? 'completed' : record.state
  const progress = state === 'completed' ? 1 : (extra.progress ?? 0)
  return {
    snapshotId: record.id,
    volumeId: record.volumeId,
    volumeSizeBytes: record.sizeBytes,
    state,
    progressPercent: Math.floor(progress * 1000) / 10,
    startTime: new Date(record.createdMs).toISOString(),
    completedAt: record.completedMs === null ? null : new Date(record.completedMs).toISOString(),
    description: record.description,
    encrypted: record.encrypted,
    parentSnapshotId: record.parentSnapshotId,
    changedBytes: record.changedExtents * extentBytes,
    dataBytes: record.dataExtents * extentBytes,
    storedBytes: record.storedBytes,
    uniqueBytes: extra.uniqueBytes,
    error: record.error,
  }
}

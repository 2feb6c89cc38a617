// Public types of the files engine beyond the front-end contract (api.ts): managing file systems
// (admin API, CLI), their lifecycle policies and usage reports.
import type { ExportPolicy, FileSystemId } from './api.ts'

/** Standard lives in the hot tier, Infrequent Access in the cold tier. */
export type StorageClass = 'standard' | 'infrequent-access'

export interface LifecyclePolicy {
  /** Files not read or written for this many "days" move to Infrequent Access; null: never. */
  readonly transitionToIaAfterDays: number | null
  /** An Infrequent Access file moves back to Standard on its first read or write. */
  readonly transitionToStandardOnAccess: boolean
}

export interface FileSystemOptions {
  readonly exportPolicy?: Partial<ExportPolicy>
  readonly lifecycle?: Partial<LifecyclePolicy>
  /** Owner and mode of the new root directory (default root:root 0755). */
  readonly rootDirectory?: { readonly uid?: number; readonly gid?: number; readonly mode?: number }
}

export interface FileSystemChanges {
  readonly name?: string
  readonly exportPolicy?: Partial<ExportPolicy>
  readonly lifecycle?: Partial<LifecyclePolicy>
}

export interface ClassUsage {
  /** Sum of file sizes. */
  readonly logicalBytes: number
  /** Bytes in extents (holes excluded). */
  readonly allocatedBytes: number
}

export interface FileSystemUsageReport {
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  readonly standard: ClassUsage
  readonly infrequentAccess: ClassUsage
  /** Bytes this file system's chunks take in packs, after dedup (within it) and compression. */
  readonly storedBytes: number
}

export interface FileSystemDescription {
  readonly id: FileSystemId
  readonly name: string
  readonly number: number
  readonly createdMs: number
  readonly exportPolicy: ExportPolicy
  readonly lifecycle: LifecyclePolicy
  readonly usage: FileSystemUsageReport
  /** Paths an NFSv4 client mounts: `/<name>` and `/<id>`. */
  readonly exportPaths: readonly string[]
}

export interface LifecycleReport {
  readonly scannedFiles: number
  readonly toInfrequentAccess: number
  readonly toStandard: number
  readonly movedChunks: number
}

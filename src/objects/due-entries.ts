// Reading and retiring entries of the objects layer's due queue (docs/format/objects.md 7.3),
// shared by the workers that handle them (restore-worker.ts, tiering-worker.ts).
// Never: decide what an entry's work is (its worker does).
import { decodeKey, type WriteTx } from '../meta/index.ts'
import { decodeVersion, dueKinds, versionKey, type DueKind, type VersionRecord } from '../model/index.ts'
import type { ObjectsContext } from './context.ts'
import { deleteDue } from './restore.ts'

export interface DueEntry {
  readonly dueMs: number
  readonly bucketId: number
  readonly key: string
  readonly order: number
  readonly kind: DueKind
}

export function decodeDueKey(encoded: Buffer): DueEntry {
  const [, , dueMs, bucketId, key, order, kind] = decodeKey(encoded)
  if (typeof dueMs !== 'number' || typeof bucketId !== 'number' || typeof key !== 'string' || typeof order !== 'number' || !dueKinds.includes(kind as DueKind)) {
    throw new TypeError('a due key has the layout of dueKey()')
  }
  return { dueMs, bucketId, key, order, kind: kind as DueKind }
}

export async function loadVersion(context: ObjectsContext, entry: DueEntry): Promise<VersionRecord | undefined> {
  const stored = await context.meta.read((tx) => tx.get(versionKey(entry.bucketId, entry.key, entry.order)))
  return stored === undefined ? undefined : decodeVersion(stored, `('s3','ver',${entry.bucketId},${JSON.stringify(entry.key)})`)
}

export async function dropEntry(context: ObjectsContext, entry: DueEntry): Promise<void> {
  await context.meta.transact(async (tx) => deleteDue(tx, entry.dueMs, entry.bucketId, entry.key, entry.order, entry.kind))
}

/** The version an entry names, re-read inside a transaction; undefined when it changed identity. */
export async function versionInTx(tx: WriteTx, entry: Pick<DueEntry, 'bucketId' | 'key' | 'order'>, versionId: string): Promise<VersionRecord | undefined> {
  const stored = await tx.get(versionKey(entry.bucketId, entry.key, entry.order))
  if (stored === undefined) return undefined
  const record = decodeVersion(stored, `('s3','ver',${entry.bucketId},${JSON.stringify(entry.key)})`)
  return record.versionId === versionId ? record : undefined
}

// The lifecycle worker: applies every bucket's lifecycle rules (docs/lifecycle.md 4).
//
// A pass visits the buckets with a configuration in bucket-id order; in each it walks the object
// keys ('s3','ver',bucketId,...) and then, if a rule aborts uploads, the multipart uploads. Work
// is done in steps of at most lifecycleKeysPerStep keys (or lifecycleUploadsPerStep uploads);
// after each step the cursor ('s3','lifecycle-cursor') is committed, so a restart resumes where
// the pass stood and memory stays bounded by one step. Passes start at most once per
// lifecycleIntervalMs. Each key's versions are read newest first in pages; the action for each
// version comes from lifecycle-rules.ts and is applied by lifecycle-actions.ts, which re-checks
// the version in its own transaction.
// Invariants: the cursor only moves forward within a pass; a configuration whose bucket was
// deleted (and maybe re-created under the same name) is removed, never applied to the new one.
// Never: hold a transaction across more than one action.
import { dataManagementLimits, isStoreError } from '../lib/index.ts'
import { decodeKey, prefixEnd } from '../meta/index.ts'
import {
  bucketKey,
  decodeBucket,
  decodeLifecycle,
  decodeLifecycleCursor,
  decodeUpload,
  decodeVersion,
  encodeLifecycleCursor,
  keyVersionsRange,
  lifecycleCursorKey,
  lifecycleKey,
  lifecycleRange,
  uploadKey,
  uploadSpace,
  versionSpace,
  type BucketRecord,
  type LifecycleConfiguration,
  type LifecycleCursor,
  type VersionRecord,
} from '../model/index.ts'
import { abortMultipartUpload } from './complete.ts'
import type { ObjectsContext } from './context.ts'
import { expireCurrent, removeVersionFor, transitionVersion } from './lifecycle-actions.ts'
import { abortsAnyUploads, abortsUpload, currentAction, noncurrentAction, removesExpiredMarker } from './lifecycle-rules.ts'
import { rootPrincipal } from './users.ts'

export interface LifecycleReport {
  keys: number
  expired: number
  transitioned: number
  removedVersions: number
  removedMarkers: number
  abortedUploads: number
}

export const emptyLifecycleReport = (): LifecycleReport => ({ keys: 0, expired: 0, transitioned: 0, removedVersions: 0, removedMarkers: 0, abortedUploads: 0 })

interface Target {
  bucket: BucketRecord
  configuration: LifecycleConfiguration
}

async function readCursor(context: ObjectsContext): Promise<LifecycleCursor | undefined> {
  const stored = await context.meta.read((tx) => tx.get(lifecycleCursorKey()))
  return stored === undefined ? undefined : decodeLifecycleCursor(stored, "('s3','lifecycle-cursor')")
}

async function writeCursor(context: ObjectsContext, cursor: LifecycleCursor): Promise<void> {
  await context.meta.transact(async (tx) => tx.put(lifecycleCursorKey(), encodeLifecycleCursor(cursor)))
}

/** The configuration of bucketId and its bucket; a configuration of a deleted bucket is removed. */
async function targetOf(context: ObjectsContext, bucketId: number): Promise<Target | undefined> {
  return context.meta.transact(async (tx) => {
    const stored = await tx.get(lifecycleKey(bucketId))
    if (stored === undefined) return undefined
    const record = decodeLifecycle(stored, `('s3','lifecycle',${bucketId})`)
    const bucketBytes = await tx.get(bucketKey(record.bucketName))
    const bucket = bucketBytes === undefined ? undefined : decodeBucket(bucketBytes, `('s3','bucket',${JSON.stringify(record.bucketName)})`)
    if (bucket?.id !== bucketId) {
      tx.delete(lifecycleKey(bucketId))
      return undefined
    }
    return { bucket, configuration: record.configuration }
  })
}

/** The first bucket id with a configuration after `after` (undefined: from the start). */
async function nextConfiguredBucket(context: ObjectsContext, after: number | undefined): Promise<number | undefined> {
  const range = lifecycleRange()
  const [entry] = await context.meta.read((tx) => tx.scan({ gt: after === undefined ? range.gt : lifecycleKey(after), lt: range.lt, limit: 1 }))
  if (entry === undefined) return undefined
  const id = decodeKey(entry.key)[2]
  return typeof id === 'number' ? id : undefined
}

/** The next object key of a bucket after `after`. */
async function nextObjectKey(context: ObjectsContext, bucketId: number, after: string | undefined): Promise<string | undefined> {
  const space = versionSpace(bucketId)
  const from = after === undefined ? { gt: space } : { gte: keyVersionsRange(bucketId, after).lt }
  const [entry] = await context.meta.read((tx) => tx.scan({ ...from, lt: prefixEnd(space), limit: 1 }))
  if (entry === undefined) return undefined
  const key = decodeKey(entry.key)[3]
  return typeof key === 'string' ? key : undefined
}

/** Versions of one key newest first, a page at a time. */
async function* versionsOf(context: ObjectsContext, bucketId: number, key: string): AsyncGenerator<VersionRecord> {
  const range = keyVersionsRange(bucketId, key)
  let gt = range.gt
  for (;;) {
    const page = await context.meta.read((tx) => tx.scan({ gt, lt: range.lt, limit: dataManagementLimits.lifecycleVersionsPerScan }))
    for (const entry of page) yield decodeVersion(entry.value, `('s3','ver',${bucketId},${JSON.stringify(key)})`)
    const last = page.at(-1)
    if (last === undefined || page.length < dataManagementLimits.lifecycleVersionsPerScan) return
    gt = last.key
  }
}

async function processLatest(context: ObjectsContext, target: Target, key: string, latest: VersionRecord, onlyVersion: boolean, nowMs: number, report: LifecycleReport): Promise<void> {
  const { bucket, configuration } = target
  const settings = context.dataManagement
  if (latest.deleteMarker) {
    if (onlyVersion && removesExpiredMarker(configuration, settings, key, latest.lastModifiedMs, nowMs) !== undefined) {
      if (await removeVersionFor(context, bucket, key, latest, true)) report.removedMarkers += 1
    }
    return
  }
  const action = currentAction(configuration, settings, { key, sizeBytes: latest.sizeBytes, tags: latest.tags, lastModifiedMs: latest.lastModifiedMs, storageClass: latest.storageClass }, nowMs)
  if (action?.kind === 'expire' && (await expireCurrent(context, bucket, key, latest))) report.expired += 1
  if (action?.kind === 'transition' && (await transitionVersion(context, bucket, key, latest, action.storageClass))) report.transitioned += 1
}

/** Evaluate and act on every version of one key. */
async function processKey(context: ObjectsContext, target: Target, key: string, nowMs: number, report: LifecycleReport): Promise<void> {
  let newer: VersionRecord | undefined
  let latest: VersionRecord | undefined
  let position = 0
  const settings = context.dataManagement
  for await (const record of versionsOf(context, target.bucket.id, key)) {
    if (latest === undefined) {
      latest = record
      newer = record
      continue
    }
    if (position === 0) await processLatest(context, target, key, latest, false, nowMs, report)
    const subject = { key, sizeBytes: record.sizeBytes, tags: record.tags, storageClass: record.storageClass, deleteMarker: record.deleteMarker }
    // A version became noncurrent when its successor was written.
    const action = noncurrentAction(target.configuration, settings, subject, newer?.lastModifiedMs ?? record.lastModifiedMs, position, nowMs)
    if (action?.kind === 'expire' && (await removeVersionFor(context, target.bucket, key, record, false))) report.removedVersions += 1
    if (action?.kind === 'transition' && (await transitionVersion(context, target.bucket, key, record, action.storageClass))) report.transitioned += 1
    newer = record
    position += 1
  }
  if (latest !== undefined && position === 0) await processLatest(context, target, key, latest, true, nowMs, report)
}

/** Up to lifecycleKeysPerStep keys after cursor.afterKey; returns the last key done, and whether keys remain. */
async function versionsStep(context: ObjectsContext, target: Target, afterKey: string | undefined, nowMs: number, report: LifecycleReport): Promise<{ afterKey: string | undefined; finished: boolean }> {
  let after = afterKey
  for (let done = 0; done < dataManagementLimits.lifecycleKeysPerStep; done++) {
    const key = await nextObjectKey(context, target.bucket.id, after)
    if (key === undefined) return { afterKey: after, finished: true }
    await processKey(context, target, key, nowMs, report)
    report.keys += 1
    after = key
  }
  return { afterKey: after, finished: false }
}

async function uploadsStep(context: ObjectsContext, target: Target, cursor: LifecycleCursor, nowMs: number, report: LifecycleReport): Promise<{ afterKey?: string; afterUploadId?: string; finished: boolean }> {
  const space = uploadSpace(target.bucket.id)
  const gt = cursor.afterKey === undefined || cursor.afterUploadId === undefined ? space : uploadKey(target.bucket.id, cursor.afterKey, cursor.afterUploadId)
  const page = await context.meta.read((tx) => tx.scan({ gt, lt: prefixEnd(space), limit: dataManagementLimits.lifecycleUploadsPerStep }))
  const principal = rootPrincipal('lifecycle')
  let last: { afterKey: string; afterUploadId: string } | undefined
  for (const entry of page) {
    const upload = decodeUpload(entry.value, `('s3','upload',${target.bucket.id})`)
    last = { afterKey: upload.key, afterUploadId: upload.uploadId }
    if (abortsUpload(target.configuration, context.dataManagement, upload.key, upload.initiatedMs, nowMs) === undefined) continue
    try {
      await abortMultipartUpload(context, { bucket: target.bucket.name, key: upload.key, uploadId: upload.uploadId, principal })
      report.abortedUploads += 1
    } catch (error) {
      // Completed or aborted by its client meanwhile: nothing left to do.
      if (!isStoreError(error, 'NOT_FOUND')) throw error
    }
  }
  return { ...(last ?? { afterKey: cursor.afterKey, afterUploadId: cursor.afterUploadId }), finished: page.length < dataManagementLimits.lifecycleUploadsPerStep }
}

/** Where the pass goes after bucketId: the next configured bucket, or idle. */
async function afterBucket(context: ObjectsContext, cursor: LifecycleCursor, bucketId: number | undefined): Promise<LifecycleCursor> {
  const next = await nextConfiguredBucket(context, bucketId)
  return next === undefined ? { passStartedMs: cursor.passStartedMs, phase: 'idle' } : { passStartedMs: cursor.passStartedMs, phase: 'versions', bucketId: next }
}

/**
 * One step of the lifecycle pass at the clock's now. Returns whether the pass is still running
 * (call again) or idle (finished, or not yet due to start).
 */
export async function runLifecycleStep(context: ObjectsContext, report: LifecycleReport = emptyLifecycleReport()): Promise<{ running: boolean; report: LifecycleReport }> {
  const nowMs = context.clock.nowMs()
  let cursor = (await readCursor(context)) ?? { passStartedMs: 0, phase: 'idle' as const }
  if (cursor.phase === 'idle') {
    if (cursor.passStartedMs !== 0 && nowMs < cursor.passStartedMs + context.dataManagement.lifecycleIntervalMs) return { running: false, report }
    cursor = await afterBucket(context, { passStartedMs: nowMs, phase: 'idle' }, undefined)
    if (cursor.phase === 'idle') {
      await writeCursor(context, cursor)
      return { running: false, report }
    }
  }
  const bucketId = cursor.bucketId
  const target = bucketId === undefined ? undefined : await targetOf(context, bucketId)
  if (target === undefined) {
    cursor = await afterBucket(context, cursor, bucketId)
  } else if (cursor.phase === 'versions') {
    const step = await versionsStep(context, target, cursor.afterKey, nowMs, report)
    if (!step.finished) cursor = { ...cursor, ...(step.afterKey === undefined ? {} : { afterKey: step.afterKey }) }
    else if (abortsAnyUploads(target.configuration)) cursor = { passStartedMs: cursor.passStartedMs, phase: 'uploads', bucketId: target.bucket.id }
    else cursor = await afterBucket(context, cursor, target.bucket.id)
  } else {
    const step = await uploadsStep(context, target, cursor, nowMs, report)
    const { finished, ...position } = step
    cursor = finished ? await afterBucket(context, cursor, target.bucket.id) : { ...cursor, ...position }
  }
  await writeCursor(context, cursor)
  return { running: cursor.phase !== 'idle', report }
}

/** Run steps until the pass is idle (tests and `now` triggers); stops early when signalled. */
export async function runLifecyclePass(context: ObjectsContext, signal?: AbortSignal): Promise<LifecycleReport> {
  const report = emptyLifecycleReport()
  for (;;) {
    const { running } = await runLifecycleStep(context, report)
    if (!running || signal?.aborted === true) return report
  }
}

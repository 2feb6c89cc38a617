// Eager hydration (like EBS fast snapshot restore): fetch every BASE extent of a volume restored
// from a snapshot into its head in the background, a few extents at a time, persisting the
// progress with a flush every volumeLimits.hydrationFlushEveryExtents extents. Reads during
// hydration are served at once either way (lazily fetched extents are simply done earlier).
// When every extent is in the head, the volume record's eagerHydration flag is cleared, so a
// restart does not walk the volume again.
//
// Contract: one hydration per volume; stop() aborts it and resolves when it has stopped; it
// stops by itself when done, at service close, or on an error (logged; lazy reads continue).
import { isStoreError, volumeLimits } from '../lib/index.ts'
import type { Hydration, VolumeContext } from './context.ts'
import { manifestPageCount } from './manifest.ts'
import { encodeVolumeRecord, volumeKey, type VolumeRecord } from './records.ts'

export function startHydration(context: VolumeContext, record: VolumeRecord): Hydration {
  const existing = context.hydrations.get(record.id)
  if (existing !== undefined) return existing
  const controller = new AbortController()
  const signal = AbortSignal.any([controller.signal, context.closing.signal])
  const state = { doneExtents: 0, totalExtents: 0 }
  const running = run(context, record, state, signal)
    .catch((error: unknown) => {
      if (signal.aborted) return
      if (!isStoreError(error)) context.options.onBug?.(error instanceof Error ? error : new TypeError(String(error)))
      context.log('volume.hydration-failed', { volumeId: record.id, message: (error as Error).message })
    })
    .finally(() => {
      if (context.hydrations.get(record.id) === hydration) context.hydrations.delete(record.id)
    })
  const hydration: Hydration = {
    get doneExtents() {
      return state.doneExtents
    },
    get totalExtents() {
      return state.totalExtents
    },
    async stop() {
      controller.abort(new Error('hydration stopped'))
      await running
    },
  }
  context.hydrations.set(record.id, hydration)
  return hydration
}

async function run(context: VolumeContext, record: VolumeRecord, state: { doneExtents: number; totalExtents: number }, signal: AbortSignal): Promise<void> {
  const live = await context.live(record)
  state.totalExtents = await live.remoteExtentCount()
  let sinceFlush = 0
  for (let page = 0; page < manifestPageCount(live.extentCount) && !signal.aborted; page += 1) {
    const remote = await live.remoteExtentsIn(page)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < remote.length && !signal.aborted) {
        if (await live.hydrate(remote[next++]!)) sinceFlush += 1
        state.doneExtents += 1
      }
    }
    await Promise.all(Array.from({ length: Math.min(volumeLimits.hydrationConcurrency, remote.length) }, worker))
    if (sinceFlush >= volumeLimits.hydrationFlushEveryExtents) {
      sinceFlush = 0
      await live.flush(signal)
    }
  }
  if (signal.aborted) return
  await live.flush(signal)
  await context.meta.transact(async (tx) => {
    const current = await context.readVolume(record.id, tx).catch(() => undefined)
    if (current?.eagerHydration === true && current.state === 'available') tx.put(volumeKey(record.id), encodeVolumeRecord({ ...current, eagerHydration: false }))
  })
  context.log('volume.hydrated', { volumeId: record.id, hydratedExtents: state.doneExtents })
}

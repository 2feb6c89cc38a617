// Eager hydration (like EBS fast snapshot restore): fetch every BASE extent of a volume restored
// from a snapshot into its head in the background, a few extents at a time, persisting the
// progress with a flush every volumeLimits.hydrationFlushEveryExtents extents. Reads during
// hydration are served at once either way (lazily fetched extents are simply done earlier).
//
// Contract: one hydration per volume; stop() aborts it and resolves when it has stopped; it
// stops by itself when done, at service close, or on an error (logged; lazy reads continue).
import { isStoreError, volumeLimits } from '../lib/index.ts'
import type { Hydration, VolumeContext } from './context.ts'
import type { VolumeRecord } from './records.ts'

export function startHydration(context: VolumeContext, record: VolumeRecord): Hydration {
  const existing = context.hydrations.get(record.id)
  if (existing !== undefined) return existing
  const controller = new AbortController()
  const signal = AbortSignal.any([controller.signal, context.closing.signal])
  const state = { doneExtents: 0, totalExtents: record.sizeBytes / volumeLimits.extentBytes }
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
  state.totalExtents = live.extentCount
  let next = 0
  let sinceFlush = 0
  let hydrated = 0
  const worker = async (): Promise<void> => {
    while (next < live.extentCount && !signal.aborted) {
      const extent = next++
      if (await live.hydrate(extent)) {
        hydrated += 1
        sinceFlush += 1
      }
      state.doneExtents += 1
      if (sinceFlush >= volumeLimits.hydrationFlushEveryExtents) {
        sinceFlush = 0
        await live.flush(signal)
      }
    }
  }
  await Promise.all(Array.from({ length: volumeLimits.hydrationConcurrency }, worker))
  if (signal.aborted) return
  await live.flush(signal)
  context.log('volume.hydrated', { volumeId: record.id, hydratedExtents: hydrated })
}

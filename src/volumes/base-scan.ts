// Walks over a live volume's extent states together with its base manifest, page by page (each
// manifest page read once): which extents still read from the base's chunks, and the repair
// after an unclean shutdown.
import { volumeLimits } from '../lib/index.ts'
import { extentStates, type ExtentMap } from './extent-map.ts'
import type { ManifestReader } from './manifest.ts'

const pageExtents = volumeLimits.manifestPageExtents

/** The BASE extents of one manifest page that have base data (not hydrated yet), ascending. */
export async function remoteExtentsIn(map: ExtentMap, base: ManifestReader, extentCount: number, page: number): Promise<number[]> {
  const first = page * pageExtents
  const last = Math.min(extentCount, first + pageExtents)
  let anyBase = false
  for (let extent = first; extent < last && !anyBase; extent += 1) anyBase = map.state(extent) === extentStates.base
  if (!anyBase) return []
  const entries = await base.page(page)
  if (entries === undefined) return []
  const remote: number[] = []
  for (let extent = first; extent < last; extent += 1) {
    if (map.state(extent) === extentStates.base && (entries[extent - first] ?? null) !== null) remote.push(extent)
  }
  return remote
}

export async function remoteExtentCount(map: ExtentMap, base: ManifestReader, extentCount: number): Promise<number> {
  let count = 0
  for (let page = 0; page * pageExtents < extentCount; page += 1) count += (await remoteExtentsIn(map, base, extentCount, page)).length
  return count
}

/**
 * After a crash a write may have reached the head without its state change, leaving bytes in a
 * BASE extent without base data or in a HOLE extent, which those states assume to be a hole.
 * Both read as zeroes, so they become ZERO (zero-filled before a partial write); the new states
 * are committed before returning. BASE extents with base data are written whole by hydration.
 */
export async function makeStaleExtentsZero(map: ExtentMap, base: ManifestReader, extentCount: number): Promise<number> {
  let converted = 0
  for (let first = 0; first < extentCount; first += pageExtents) {
    const last = Math.min(extentCount, first + pageExtents)
    let entries: Awaited<ReturnType<ManifestReader['page']>> | null = null
    for (let extent = first; extent < last; extent += 1) {
      const state = map.state(extent)
      if (state === extentStates.base) {
        entries ??= (await base.page(first / pageExtents)) ?? []
        if ((entries[extent - first] ?? null) !== null) continue
      } else if (state !== extentStates.hole) {
        continue
      }
      map.setState(extent, extentStates.zero)
      converted += 1
    }
  }
  await map.persistStates(map.captureStates())
  return converted
}

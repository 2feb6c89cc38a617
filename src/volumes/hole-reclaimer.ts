// Gives trimmed space back to the filesystem: ZERO extents whose state is durable get their head
// region punched (fallocate PUNCH_HOLE through a HolePuncher) and become HOLE, in the background,
// run by run of adjacent extents.
//
// Contract: add() takes extents whose ZERO state was just made durable by a flush (a hole must
// never be punched under a state that could still revert to DATA after a crash); each run is
// punched under the extents' exclusive locks and only where the state is still ZERO (a write
// may have claimed an extent meanwhile). The first failure to punch disables the reclaimer and
// is reported once: the volume stays correct (ZERO reads as zeroes), the space stays allocated.
// stop() waits for the running pass and starts no other.
import { StoreError, volumeLimits } from '../lib/index.ts'
import { extentStates, type ExtentMap } from './extent-map.ts'
import type { HolePuncher } from './head.ts'
import type { ExtentLocks } from './locks.ts'

const extentBytes = volumeLimits.extentBytes
/** Extents locked and punched together at most (a 32 MiB range). */
const runExtentsMax = 256

export interface HoleReclaimerParts {
  locks: ExtentLocks
  map: ExtentMap
  headPath: string
  punchHole: HolePuncher
  onDisabled: (error: StoreError) => void
}

export class HoleReclaimer {
  readonly #parts: HoleReclaimerParts
  #punchable = new Set<number>()
  #running: Promise<void> | undefined
  #disabled = false
  #stopped = false

  constructor(parts: HoleReclaimerParts) {
    this.#parts = parts
  }

  add(extents: readonly number[]): void {
    if (this.#disabled || this.#stopped || extents.length === 0) return
    for (const extent of extents) this.#punchable.add(extent)
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined
    })
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#running
  }

  async #drain(): Promise<void> {
    while (this.#punchable.size > 0 && !this.#stopped && !this.#disabled) {
      const extents = [...this.#punchable].sort((a, b) => a - b)
      this.#punchable = new Set()
      let index = 0
      while (index < extents.length && !this.#disabled) {
        let end = index + 1
        while (end < extents.length && extents[end] === extents[end - 1]! + 1 && end - index < runExtentsMax) end += 1
        await this.#punchRun(extents[index]!, extents[end - 1]!)
        index = end
      }
    }
  }

  async #punchRun(first: number, last: number): Promise<void> {
    const { locks, map } = this.#parts
    const release = await locks.acquireRange(first, last, true)
    try {
      let at = first
      while (at <= last) {
        if (map.state(at) !== extentStates.zero) {
          at += 1
          continue
        }
        let end = at
        while (end + 1 <= last && map.state(end + 1) === extentStates.zero) end += 1
        if (!(await this.#parts.punchHole(this.#parts.headPath, at * extentBytes, (end - at + 1) * extentBytes))) {
          this.#disabled = true
          this.#punchable.clear()
          this.#parts.onDisabled(new StoreError('NOT_IMPLEMENTED', 'cannot punch holes in the head file; trimmed space stays allocated'))
          return
        }
        for (let extent = at; extent <= end; extent += 1) map.setState(extent, extentStates.hole)
        at = end + 1
      }
    } finally {
      release()
    }
  }
}

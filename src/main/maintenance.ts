// Background maintenance of the chunk store: garbage collection followed by pack compaction
// every maintenanceIntervalMs, and a full scrub every scrubIntervalMs. One task runs at a time;
// stop() aborts the running task and waits for it, so close never races a GC transaction.
// A failed run is logged and retried at the next interval: maintenance never crashes the server
// for an operational error, but a bug (AssertionError/TypeError) is rethrown to onBug.
import { isStoreError } from '../lib/index.ts'
import type { ChunkStore, ScrubReport } from '../chunk/index.ts'
import type { Logger } from './logger.ts'

export interface MaintenanceOptions {
  chunkStore: ChunkStore
  logger: Logger
  maintenanceIntervalMs: number
  scrubIntervalMs: number
  onBug: (error: unknown) => void
}

export class Maintenance {
  readonly #options: MaintenanceOptions
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #abort = new AbortController()
  #running: Promise<void> = Promise.resolve()
  /** The last background scrub's result, for info and metrics. */
  lastScrub: { finishedMs: number; report: ScrubReport } | undefined

  constructor(options: MaintenanceOptions) {
    this.#options = options
  }

  start(): void {
    const { maintenanceIntervalMs, scrubIntervalMs } = this.#options
    if (maintenanceIntervalMs > 0) this.#every(maintenanceIntervalMs, 'gc and compaction', (signal) => this.#collect(signal))
    if (scrubIntervalMs > 0) this.#every(scrubIntervalMs, 'scrub', (signal) => this.#scrub(signal))
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#abort.abort()
    await this.#running
  }

  #every(intervalMs: number, name: string, task: (signal: AbortSignal) => Promise<void>): void {
    const schedule = () => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        // Serialize with any other maintenance task, then schedule the next run.
        this.#running = this.#running.then(() => this.#runOnce(name, task)).finally(() => {
          if (!this.#abort.signal.aborted) schedule()
        })
      }, intervalMs)
      timer.unref()
      this.#timers.add(timer)
    }
    schedule()
  }

  async #runOnce(name: string, task: (signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.#abort.signal.aborted) return
    try {
      await task(this.#abort.signal)
    } catch (error) {
      if (isStoreError(error, 'ABORTED') || isStoreError(error, 'CLOSED')) return
      if (isStoreError(error)) {
        this.#options.logger.error({ err: error, code: error.code }, `background ${name} failed; retrying at the next interval`)
        return
      }
      this.#options.onBug(error)
    }
  }

  async #collect(signal: AbortSignal): Promise<void> {
    const { chunkStore, logger } = this.#options
    const gc = await chunkStore.collectGarbage({ signal })
    const compaction = await chunkStore.compact({ signal })
    if (gc.collectedChunks > 0 || compaction.packsCompacted > 0) logger.info({ gc, compaction }, 'background gc and compaction')
  }

  async #scrub(signal: AbortSignal): Promise<void> {
    const { chunkStore, logger } = this.#options
    const report = await chunkStore.scrub({ signal })
    this.lastScrub = { finishedMs: Date.now(), report }
    if (report.corrupt.length > 0) {
      logger.error({ corrupt: report.corrupt.slice(0, 100), corruptChunks: report.corrupt.length }, 'scrub found corrupt chunks')
    } else {
      logger.info({ checkedChunks: report.checkedChunks, checkedBytes: report.checkedBytes }, 'scrub found no corruption')
    }
  }
}

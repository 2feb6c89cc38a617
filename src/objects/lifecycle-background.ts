// The objects layer's background work: the INTELLIGENT_TIERING access log (tiering-worker.ts) and
// the due queue (restores, tier moves, tiering checks: restore-worker.ts) every
// restoreCheckIntervalMs, and the lifecycle pass (lifecycle-worker.ts) whenever it is due.
// One loop, one step at a time, so the work never competes with itself; timers are unref'd and
// stop() waits for the step in progress.
// Errors: operational failures go to onError (logged by main/) and the work is retried on the
// next tick; a bug (AssertionError, TypeError, ...) goes to onBug and stops the loop.
// Never: run after stop(); let a step's rejection go unhandled.
import { AssertionError } from 'node:assert'
import { dataManagementLimits, isStoreError } from '../lib/index.ts'
import type { ObjectsContext } from './context.ts'
import { runLifecycleStep } from './lifecycle-worker.ts'
import { runDueStep, type DueEntry } from './restore-worker.ts'
import { flushAccessLog } from './tiering-worker.ts'

export interface BackgroundHooks {
  onError(error: unknown, what: string): void
  onBug(error: Error): void
}

function isBug(error: unknown): error is Error {
  return error instanceof AssertionError || error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError
}

export class DataManagementWorker {
  readonly #context: ObjectsContext
  readonly #hooks: BackgroundHooks
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  constructor(context: ObjectsContext, hooks: BackgroundHooks) {
    this.#context = context
    this.#hooks = hooks
  }

  start(): void {
    if (this.#stopped || this.#timer !== undefined || this.#running !== undefined) return
    this.#schedule(0)
  }

  /**
   * Run one tick now and wait for it (tests; tools). Errors reject here instead of going to the
   * hooks; the loop, if started, goes on at its own pace.
   */
  async poke(): Promise<void> {
    while (this.#running !== undefined) await this.#running
    if (this.#stopped) return
    const run = this.#step()
    const settled = run.then(() => undefined, () => undefined)
    this.#running = settled
    try {
      await run
    } finally {
      if (this.#running === settled) this.#running = undefined
    }
  }

  /** Stop the loop, then write out what the access log holds (a clean shutdown loses no access). */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
    try {
      // Bounded: reads that keep arriving during shutdown cannot hold it up.
      const rounds = Math.ceil(this.#context.accessLog.pendingEntries / dataManagementLimits.accessFlushEntriesPerStep)
      for (let round = 0; round < rounds; round += 1) await flushAccessLog(this.#context)
    } catch (error) {
      if (!isStoreError(error, 'CLOSED')) this.#report(error, 'access log flush at shutdown')
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#running !== undefined) return this.#schedule(delayMs) // a poke is running: come back later
      const run: Promise<void> = this.#runTick().finally(() => {
        if (this.#running === run) this.#running = undefined
      })
      this.#running = run
    }, delayMs)
    this.#timer.unref()
  }

  /** One access-log flush, one due step and one lifecycle step; true when more work is waiting. */
  async #step(): Promise<boolean> {
    // Accesses first, so a tiering check sees the reads made before it.
    const flush = await flushAccessLog(this.#context)
    const due = await runDueStep(this.#context, (error: unknown, entry: DueEntry) => this.#report(error, `${entry.kind} of ${entry.key}`))
    const lifecycle = await runLifecycleStep(this.#context)
    return flush.more || due.more || lifecycle.running
  }

  async #runTick(): Promise<void> {
    let again = false
    try {
      again = await this.#step()
    } catch (error) {
      if (isStoreError(error, 'CLOSED')) return
      if (isBug(error)) {
        this.#stopped = true
        this.#hooks.onBug(error)
        return
      }
      this.#hooks.onError(error, 'background step')
    }
    // Keep going while there is work; otherwise wait for the next due check.
    this.#schedule(again ? 0 : this.#context.dataManagement.restoreCheckIntervalMs)
  }

  #report(error: unknown, what: string): void {
    if (isBug(error)) {
      this.#stopped = true
      this.#hooks.onBug(error)
      return
    }
    this.#hooks.onError(error, what)
  }
}

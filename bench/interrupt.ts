// Ctrl-C for the benchmarks. It arrives twice (from the terminal and again through bench/run.ts),
// possibly while main is still failing its way out of a phase whose servers were stopped under it.
// The cleanup runs once, whoever asks first; the handlers stay installed so the second signal
// does not kill the process half-way, and the process exits 130 once clean.
export interface Interruptible {
  readonly interrupted: boolean
  /** The cleanup, run at most once (main's finally calls it too). */
  cleanUp(): Promise<void>
  /** For main's catch: once interrupted, wait for the handler's exit instead of reporting the error. */
  rethrow(error: unknown): Promise<never>
}

export function cleanUpOnInterrupt(cleanUp: () => Promise<void>): Interruptible {
  let cleaning: Promise<void> | undefined
  let interrupted = false
  const state: Interruptible = {
    get interrupted() {
      return interrupted
    },
    cleanUp: () => (cleaning ??= cleanUp()),
    async rethrow(error) {
      if (interrupted) await new Promise(() => undefined)
      throw error
    },
  }
  const onSignal = (): void => {
    if (interrupted) return
    interrupted = true
    void state.cleanUp().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return state
}

// UsageError: the command line, environment or config file asked for something impossible.
// The CLI prints the message with a hint and exits 2; nothing was started or changed.
export class UsageError extends Error {
  /** Extra line printed after the message, e.g. "run `cairn help server`". */
  readonly hint: string | undefined
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UsageError'
    this.hint = options?.hint
  }
}

export function isUsageError(error: unknown): error is UsageError {
  return error instanceof UsageError
}

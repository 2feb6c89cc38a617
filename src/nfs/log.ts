// The logger the NFS server writes to: pino's calling convention, so main's Logger fits as is.
// Never pass file contents, credentials or whole requests to it.

export interface NfsLogMethod {
  (fields: object, message?: string): void
}

export interface NfsLogger {
  debug: NfsLogMethod
  info: NfsLogMethod
  warn: NfsLogMethod
  error: NfsLogMethod
}

const ignore: NfsLogMethod = () => {}

export const silentNfsLogger: NfsLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore }

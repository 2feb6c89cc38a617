// A tiny JSON-lines logger with pino's calling convention, so one instance serves Cairn's own
// code and fastify (passed as `loggerInstance`).
//
// Contract: one line per record on the sink: {"time":ISO,"level":"info","msg":...,...fields}.
// `logger.info('text')` or `logger.info({ field: 1 }, 'text')`. Error values (also under `err`
// or `error`) are written with name, message, code and stack. Serialising never throws: a
// field that cannot be written becomes a short placeholder, because losing a log line must
// never take the server down. Secrets are never passed to the logger (callers' duty).
import { hostname } from 'node:os'

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]

const severity: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

export function isLogLevel(text: string): text is LogLevel {
  return (logLevels as readonly string[]).includes(text)
}

export type LogFields = Record<string, unknown>
export type Serializers = Record<string, (value: never) => unknown>

export interface LogMethod {
  (message: string): void
  (fields: object, message?: string): void
}

export interface Logger {
  level: string
  fatal: LogMethod
  error: LogMethod
  warn: LogMethod
  info: LogMethod
  debug: LogMethod
  trace: LogMethod
  silent: LogMethod
  child(bindings: LogFields, options?: { level?: string; serializers?: Serializers }): Logger
}

export interface LogSink {
  write(line: string): unknown
}

export interface LoggerOptions {
  level: LogLevel
  /** Default: process.stderr (synchronous on Linux for files, pipes and TTYs). */
  sink?: LogSink
  bindings?: LogFields
}

export function createLogger(options: LoggerOptions): Logger {
  const base = { pid: process.pid, hostname: hostname(), ...options.bindings }
  return new JsonLogger(options.level, options.sink ?? process.stderr, base, {})
}

class JsonLogger implements Logger {
  level: string
  readonly #sink: LogSink
  readonly #bindings: LogFields
  readonly #serializers: Serializers

  constructor(level: string, sink: LogSink, bindings: LogFields, serializers: Serializers) {
    this.level = level
    this.#sink = sink
    this.#bindings = bindings
    this.#serializers = serializers
  }

  fatal: LogMethod = (first: object | string, message?: string) => this.#log('fatal', first, message)
  error: LogMethod = (first: object | string, message?: string) => this.#log('error', first, message)
  warn: LogMethod = (first: object | string, message?: string) => this.#log('warn', first, message)
  info: LogMethod = (first: object | string, message?: string) => this.#log('info', first, message)
  debug: LogMethod = (first: object | string, message?: string) => this.#log('debug', first, message)
  trace: LogMethod = (first: object | string, message?: string) => this.#log('trace', first, message)
  silent: LogMethod = () => {}

  child(bindings: LogFields, options?: { level?: string; serializers?: Serializers }): Logger {
    const level = options?.level !== undefined && isLogLevel(options.level) ? options.level : this.level
    const serializers = { ...this.#serializers, ...options?.serializers }
    return new JsonLogger(level, this.#sink, { ...this.#bindings, ...bindings }, serializers)
  }

  #log(level: LogLevel, first: object | string, message: string | undefined): void {
    const threshold = isLogLevel(this.level) ? severity[this.level] : severity.info
    if (severity[level] < threshold) return
    const record: LogFields = { time: new Date().toISOString(), level, ...this.#bindings }
    if (typeof first === 'string') {
      record.msg = first
    } else {
      const fields = first instanceof Error ? { err: first } : (first as LogFields)
      for (const [name, value] of Object.entries(fields)) record[name] = this.#serialize(name, value)
      if (message !== undefined) record.msg = message
    }
    this.#sink.write(`${safeStringify(record)}\n`)
  }

  #serialize(name: string, value: unknown): unknown {
    const serializer = this.#serializers[name]
    if (serializer !== undefined) {
      try {
        return serializer(value as never)
      } catch {
        return `[unserializable ${name}]`
      }
    }
    return value instanceof Error ? serializeError(value) : value
  }
}

/** name, message, code, stack and cause chain of an error, as plain JSON. */
export function serializeError(error: Error, depth = 0): LogFields {
  const fields: LogFields = { type: error.name, message: error.message }
  const code = (error as { code?: unknown }).code
  if (code !== undefined) fields.code = code
  if (error.stack !== undefined) fields.stack = error.stack
  if (error.cause !== undefined && depth < 4) {
    fields.cause = error.cause instanceof Error ? serializeError(error.cause, depth + 1) : String(error.cause)
  }
  return fields
}

function safeStringify(record: LogFields): string {
  const seen = new WeakSet<object>()
  try {
    return JSON.stringify(record, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString()
      if (value instanceof Error) return serializeError(value)
      if (Buffer.isBuffer(value)) return `[${value.length} bytes]`
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[circular]'
        seen.add(value)
      }
      return value
    })
  } catch (error) {
    return JSON.stringify({ time: record.time, level: record.level, msg: record.msg, logError: String(error) })
  }
}

/** Adapter for layers that log through a plain `(event, fields) => void` callback (chunk store). */
export function eventLogger(logger: Logger, level: Exclude<LogLevel, 'silent'> = 'info'): (event: string, fields: object) => void {
  return (event, fields) => logger[level](fields, event)
}

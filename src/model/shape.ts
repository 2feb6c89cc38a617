// Shape checks for JSON records read back from the MetaStore. A record that does not have the
// shape its codec wrote is corrupt metadata: StoreError IO_ERROR naming the record and field,
// the same convention as src/meta/record.ts. Never used on caller input (that is validated at
// the edge and in src/objects with INVALID_ARGUMENT).
import { StoreError } from '../lib/index.ts'

export type JsonObject = Record<string, unknown>

export function corruptRecord(what: string, reason: string, cause?: unknown): StoreError {
  return new StoreError('IO_ERROR', `metadata record ${what} is corrupt: ${reason}`, cause === undefined ? undefined : { cause })
}

/** Reads typed fields of one JSON object, throwing IO_ERROR for the first wrong one. */
export class ShapeReader {
  readonly #value: JsonObject
  readonly #what: string
  constructor(value: unknown, what: string) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corruptRecord(what, 'not a JSON object')
    this.#value = value as JsonObject
    this.#what = what
  }

  #fail(field: string, expected: string): never {
    throw corruptRecord(this.#what, `field "${field}" is not ${expected}`)
  }

  has(field: string): boolean {
    return this.#value[field] !== undefined
  }

  string(field: string): string {
    const value = this.#value[field]
    return typeof value === 'string' ? value : this.#fail(field, 'a string')
  }

  optionalString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined
  }

  /** A non-negative safe integer. */
  count(field: string): number {
    const value = this.#value[field]
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : this.#fail(field, 'a non-negative integer')
  }

  boolean(field: string): boolean {
    const value = this.#value[field]
    return typeof value === 'boolean' ? value : this.#fail(field, 'a boolean')
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.#value[field]
    return allowed.includes(value as T) ? (value as T) : this.#fail(field, `one of ${allowed.join(', ')}`)
  }

  optionalOneOf<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    return this.has(field) ? this.oneOf(field, allowed) : undefined
  }

  /** A JSON object whose values are all strings. */
  stringMap(field: string): Record<string, string> {
    const value = this.#value[field]
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.#fail(field, 'an object of strings')
    for (const entry of Object.values(value)) if (typeof entry !== 'string') return this.#fail(field, 'an object of strings')
    return { ...(value as Record<string, string>) }
  }

  /** An array of [string, string] pairs. */
  pairs(field: string): Array<[string, string]> {
    const value = this.#value[field]
    if (!Array.isArray(value)) return this.#fail(field, 'an array of pairs')
    return value.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        return this.#fail(field, 'an array of string pairs')
      }
      return [pair[0], pair[1]] as [string, string]
    })
  }

  array(field: string): unknown[] {
    const value = this.#value[field]
    return Array.isArray(value) ? value : this.#fail(field, 'an array')
  }

  object(field: string): ShapeReader {
    if (!this.has(field)) this.#fail(field, 'an object')
    return new ShapeReader(this.#value[field], `${this.#what}.${field}`)
  }

  stringArray(field: string): string[] {
    const value = this.array(field)
    return value.map((entry) => (typeof entry === 'string' ? entry : this.#fail(field, 'an array of strings')))
  }
}

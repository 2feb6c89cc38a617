// Plain JSON from the structured results of the storage core (stats, scrub reports), for the
// admin API: bigint -> number when safe (else string), Buffer/Uint8Array -> hex, Map -> object,
// Set -> array, Date -> ISO string, undefined fields dropped, NaN/Infinity -> null.
import type { JsonObject, JsonValue } from '../admin/index.ts'

export function toJson(value: unknown, depth = 0): JsonValue {
  if (depth > 32) throw new TypeError('toJson: value nests deeper than 32 levels (a cycle?)')
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString()
    case 'object':
      return objectToJson(value, depth)
    default:
      throw new TypeError(`toJson: cannot represent a ${typeof value}`)
  }
}

/** toJson for values that must come out as an object (an admin response body). */
export function toJsonObject(value: unknown): JsonObject {
  const json = toJson(value)
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TypeError('toJsonObject: not an object')
  return json
}

function objectToJson(value: object, depth: number): JsonValue {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value) || value instanceof Set) return [...value].map((item) => toJson(item, depth + 1))
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value)
  const result: JsonObject = {}
  for (const [key, item] of entries) {
    if (item !== undefined) result[String(key)] = toJson(item, depth + 1)
  }
  return result
}

// Assertions state invariants inside the core. A failed assertion is a bug: main/ logs it and
// exits rather than limping on. Never use these to validate caller input (that is StoreError
// INVALID_ARGUMENT at the protocol edge).
import { AssertionError } from 'node:assert'

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError({ message })
}

export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError({ message: `${message}: ${String(value)}` })
}

/** Narrow away undefined/null, asserting it is present. */
export function must<T>(value: T | undefined | null, message = 'value is missing'): T {
  if (value === undefined || value === null) throw new AssertionError({ message })
  return value
}

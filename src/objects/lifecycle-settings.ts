// Settings of the objects layer's data-management features: the length of a lifecycle "day",
// restore delays per retrieval tier, how often the lifecycle worker starts a pass, and where
// new key domains come from (SSE-S3 / SSE-KMS). Parsed once in main/ and passed down.
//
// Invariants: every duration is a positive safe integer of milliseconds (delays may be 0).
// Never: read configuration from the environment here.
import type { DomainKeys } from '../crypto/index.ts'
import { StoreError, type KeyDomainId } from '../lib/index.ts'
import type { RestoreTier } from '../model/index.ts'

/** Creates encrypted key domains and opens them (KMS key material): src/chunk/keyring.ts KeyRing satisfies it. */
export interface KeyDomainSource {
  createDomain(): Promise<KeyDomainId>
  keysFor(domain: KeyDomainId): Promise<DomainKeys>
}

export interface DataManagementSettings {
  /** The length of a lifecycle / restore "day" (86,400,000 in production; seconds in tests). */
  readonly dayMs: number
  /** Restore delay for GLACIER per tier; DEEP_ARCHIVE takes deepArchiveDelayFactor times as long. */
  readonly restoreDelaysMs: Readonly<Record<RestoreTier, number>>
  /** A lifecycle pass starts at most this often. */
  readonly lifecycleIntervalMs: number
  /** Due restores are looked for this often. */
  readonly restoreCheckIntervalMs: number
  /** Undefined: SSE-S3 / SSE-KMS answer NOT_IMPLEMENTED (a store without a key ring). */
  readonly keyDomains: KeyDomainSource | undefined
}

export const dayMsReal = 86_400_000

/** DEEP_ARCHIVE restores take this many times the GLACIER delay of the same tier (AWS: 12 h vs 3-5 h standard). */
export const deepArchiveDelayFactor = 3

export const dataManagementDefaults: Omit<DataManagementSettings, 'keyDomains'> = {
  dayMs: dayMsReal,
  restoreDelaysMs: { Expedited: 5 * 60_000, Standard: 4 * 3_600_000, Bulk: 12 * 3_600_000 },
  lifecycleIntervalMs: 3_600_000,
  restoreCheckIntervalMs: 1000,
}

/** The next midnight UTC at or after ms. */
export function midnightAtOrAfter(ms: number): number {
  return Math.ceil(ms / dayMsReal) * dayMsReal
}

/**
 * When something `days` lifecycle days after fromMs happens. With real days AWS rounds up to
 * the next midnight UTC; with a shortened day (tests) the time is exact.
 */
export function daysAfter(settings: Pick<DataManagementSettings, 'dayMs'>, fromMs: number, days: number): number {
  const exact = fromMs + days * settings.dayMs
  return settings.dayMs === dayMsReal ? midnightAtOrAfter(exact) : exact
}

export function dataManagementSettings(options: Partial<DataManagementSettings> = {}): DataManagementSettings {
  const settings: DataManagementSettings = { ...dataManagementDefaults, keyDomains: undefined, ...options }
  const check = (name: string, value: number, minimum: number) => {
    if (!Number.isSafeInteger(value) || value < minimum) throw new StoreError('INVALID_ARGUMENT', `${name} must be an integer of milliseconds >= ${minimum}, got ${value}`)
  }
  check('dayMs', settings.dayMs, 1)
  check('lifecycleIntervalMs', settings.lifecycleIntervalMs, 1)
  check('restoreCheckIntervalMs', settings.restoreCheckIntervalMs, 1)
  for (const [tier, delayMs] of Object.entries(settings.restoreDelaysMs)) check(`restore delay ${tier}`, delayMs, 0)
  return settings
}

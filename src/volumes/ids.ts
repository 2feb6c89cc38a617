// Volume and snapshot ids, shaped like EBS's: 'vol-' / 'snap-' followed by 17 lowercase hex
// digits drawn from the injected Random. Branded so a snapshot id cannot be passed as a volume id.
// Parsing is the edge: malformed ids from callers are StoreError INVALID_ARGUMENT.
import { StoreError, type Brand, type Random } from '../lib/index.ts'

export type VolumeId = Brand<string, 'VolumeId'>
export type SnapshotId = Brand<string, 'SnapshotId'>

const hexDigits = 17
const volumePattern = /^vol-[0-9a-f]{17}$/
const snapshotPattern = /^snap-[0-9a-f]{17}$/

function randomHex(random: Random): string {
  return random.bytes(9).toString('hex').slice(0, hexDigits)
}

export function newVolumeId(random: Random): VolumeId {
  return `vol-${randomHex(random)}` as VolumeId
}

export function newSnapshotId(random: Random): SnapshotId {
  return `snap-${randomHex(random)}` as SnapshotId
}

export function isVolumeId(text: string): text is VolumeId {
  return volumePattern.test(text)
}

export function isSnapshotId(text: string): text is SnapshotId {
  return snapshotPattern.test(text)
}

/** AWS: InvalidVolumeID.Malformed. */
export function parseVolumeId(text: string): VolumeId {
  if (!isVolumeId(text)) throw new StoreError('INVALID_ARGUMENT', `Invalid id: "${text}" (expecting "vol-..." with 17 hex digits)`, { subject: 'volume' })
  return text
}

/** AWS: InvalidSnapshotID.Malformed. */
export function parseSnapshotId(text: string): SnapshotId {
  if (!isSnapshotId(text)) throw new StoreError('INVALID_ARGUMENT', `Invalid id: "${text}" (expecting "snap-..." with 17 hex digits)`, { subject: 'snapshot' })
  return text
}

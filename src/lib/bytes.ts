// Byte helpers: human sizes with units, both ways. Input parsing throws StoreError
// INVALID_ARGUMENT because sizes come from users (flags, CLI, API).
import { StoreError } from './errors.ts'

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

const units: Record<string, number> = {
  '': 1, b: 1,
  k: 1000, kb: 1000, m: 1000 ** 2, mb: 1000 ** 2, g: 1000 ** 3, gb: 1000 ** 3, t: 1000 ** 4, tb: 1000 ** 4,
  ki: KiB, kib: KiB, mi: MiB, mib: MiB, gi: GiB, gib: GiB, ti: TiB, tib: TiB,
}

/** Parse "10GiB", "512k", "4 MiB", "1.5GB", "4096" into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = units[(match?.[2] ?? '').toLowerCase()]
  if (!match || unit === undefined) {
    throw new StoreError('INVALID_ARGUMENT', `not a size: "${text}" (examples: 4096, 64KiB, 10GiB, 1.5GB)`)
  }
  const bytes = Number(match[1]) * unit
  if (!Number.isSafeInteger(Math.round(bytes))) throw new StoreError('INVALID_ARGUMENT', `size too large: "${text}"`)
  return Math.round(bytes)
}

/** Format bytes for people: 1536 -> "1.5 KiB". */
export function formatSize(bytes: number): string {
  const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let index = 0
  while (Math.abs(value) >= 1024 && index < names.length - 1) {
    value /= 1024
    index += 1
  }
  const digits = index === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2
  return `${Number(value.toFixed(digits))} ${names[index]}`
}

// Test support for the chunk store's tests (and the fuzz and kill tests built on its API):
// a store on a temp dir with a manual clock and a seeded random, reopenable on the same data.
// Not used by production code.
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { plainDomainKeys } from '../crypto/index.ts'
import { nodeIo, type Io } from '../io/index.ts'
import { ManualClock, StoreError, type Random } from '../lib/index.ts'
import { MemoryMetaStore, type MetaStore } from '../meta/index.ts'
import type { Tier } from './location.ts'
import type { ChunkKeySource } from './store-context.ts'
import { ChunkStore, type ChunkStoreOptions } from './store.ts'

/** A deterministic Random: SHA-256 in counter mode over a seed. */
export function seededRandom(seed: number): Random {
  let counter = 0
  return {
    bytes(length: number): Buffer {
      const out = Buffer.alloc(length)
      for (let at = 0; at < length; at += 32) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest()
        block.copy(out, at, 0, Math.min(32, length - at))
      }
      return out
    },
  }
}

/** Keys for the plain domain only. */
export const plainKeySource: ChunkKeySource = {
  async keysFor(domain) {
    if (domain === 0) return plainDomainKeys
    throw new StoreError('KEY_UNAVAILABLE', `test key source has no domain ${domain}`)
  },
}

export interface TestStoreSetup {
  directory: string
  tierPaths: Record<Tier, string>
  clock: ManualClock
  random: Random
  meta: MetaStore
  io: Io
  options: ChunkStoreOptions
  /** Open (or reopen) the store on the same data with these option overrides. */
  open(overrides?: Partial<ChunkStoreOptions>): Promise<ChunkStore>
  cleanup(): Promise<void>
}

export async function testStoreSetup(overrides: Partial<ChunkStoreOptions> = {}, seed = 1): Promise<TestStoreSetup> {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-chunk-'))
  const tierPaths = { hot: join(directory, 'hot'), cold: join(directory, 'cold') }
  const clock = new ManualClock()
  const random = seededRandom(seed)
  const meta = overrides.meta ?? new MemoryMetaStore()
  const io = overrides.io ?? nodeIo
  const options: ChunkStoreOptions = {
    io,
    meta,
    keyRing: plainKeySource,
    clock,
    random,
    tierPaths,
    gcGraceMs: 1000,
    packTargetBytes: 1024 * 1024,
    ...overrides,
  }
  return {
    directory,
    tierPaths,
    clock,
    random,
    meta,
    io,
    options,
    open: (more = {}) => ChunkStore.open({ ...options, ...more }),
    cleanup: () => rm(directory, { recursive: true, force: true }),
  }
}

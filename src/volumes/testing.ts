// Test support for the volume tests (not used by production code): a VolumeService over a real
// ChunkStore and KeyRing on a temp dir, reopenable on the same data.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChunkStore, KeyRing } from '../chunk/index.ts'
import { masterKeyFromBytes } from '../crypto/index.ts'
import { nodeIo } from '../io/index.ts'
import { systemClock, systemRandom } from '../lib/index.ts'
import { LevelMetaStore, MemoryMetaStore, type MetaStore } from '../meta/index.ts'
import type { HolePuncher } from './head.ts'
import { VolumeService } from './service.ts'
import type { ThrottleClock } from './throttle.ts'

export interface VolumeTestSetup {
  directory: string
  volumesDir: string
  meta: MetaStore
  chunkStore: ChunkStore
  service: VolumeService
  /** Close the service and the chunk store and open both again on the same data. */
  reopen(): Promise<VolumeService>
  cleanup(): Promise<void>
}

export interface VolumeTestOptions {
  /** 'level' keeps the metadata on disk (for tests that read every file under the dir). */
  metaBackend?: 'memory' | 'level'
  punchHole?: HolePuncher
  throttleClock?: ThrottleClock
  directory?: string
  snapshotPagesPerTransaction?: number
}

/** An unthrottled clock: never waits (for tests that are not about throttling). */
export const noThrottleClock: ThrottleClock = { nowMs: () => 0, sleep: async () => undefined }

export async function volumeTestSetup(options: VolumeTestOptions = {}): Promise<VolumeTestSetup> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'cairn-volumes-')))
  const meta = options.metaBackend === 'level' ? await LevelMetaStore.open(join(directory, 'meta')) : new MemoryMetaStore()
  const masterKey = masterKeyFromBytes(Buffer.alloc(32, 7))
  const volumesDir = join(directory, 'volumes')
  const bugs: Error[] = []
  const open = async (): Promise<{ chunkStore: ChunkStore; service: VolumeService }> => {
    const keyRing = await KeyRing.open({ meta, masterKey, random: systemRandom })
    const chunkStore = await ChunkStore.open({
      io: nodeIo,
      meta,
      keyRing,
      clock: systemClock,
      random: systemRandom,
      tierPaths: { hot: join(directory, 'packs'), cold: join(directory, 'cold') },
      packTargetBytes: 8 * 1024 * 1024,
    })
    const service = await VolumeService.open({
      io: nodeIo,
      meta,
      chunkStore,
      keyRing,
      clock: systemClock,
      random: systemRandom,
      volumesDir,
      punchHole: options.punchHole,
      throttleClock: options.throttleClock ?? noThrottleClock,
      onBug: (error) => bugs.push(error),
      snapshotPagesPerTransaction: options.snapshotPagesPerTransaction,
    })
    return { chunkStore, service }
  }
  let opened = await open()
  const setup: VolumeTestSetup = {
    directory,
    volumesDir,
    meta,
    get chunkStore() {
      return opened.chunkStore
    },
    get service() {
      return opened.service
    },
    async reopen() {
      await opened.service.close()
      await opened.chunkStore.close()
      opened = await open()
      return opened.service
    },
    async cleanup() {
      await opened.service.close().catch(() => undefined)
      await opened.chunkStore.close().catch(() => undefined)
      await meta.close().catch(() => undefined)
      if (options.directory === undefined) await rm(directory, { recursive: true, force: true })
      if (bugs.length > 0) throw bugs[0]
    },
  }
  return setup
}

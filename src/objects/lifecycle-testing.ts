// Test support for the storage-class, restore, lifecycle and SSE tests: an objects layer over a
// MemoryMetaStore and a real ChunkStore whose key source is a real KeyRing (so SSE-S3 domains
// work), with a manual clock, short days and restore delays. Not used by production code.
import { KeyRing, type ChunkStore } from '../chunk/index.ts'
import { seededRandom, testStoreSetup, type TestStoreSetup } from '../chunk/store-testing.ts'
import { masterKeyFromBytes } from '../crypto/index.ts'
import type { ManualClock } from '../lib/index.ts'
import type { Principal, StorageClass } from './api.ts'
import type { DataManagementSettings } from './lifecycle-settings.ts'
import { openObjects, type ObjectsLayer } from './service.ts'
import { bodyOf, digestsFor } from './testing.ts'
import { rootPrincipal } from './users.ts'

export const testDayMs = 1000

export interface DataTestSetup {
  objects: ObjectsLayer
  chunkStore: ChunkStore
  store: TestStoreSetup
  clock: ManualClock
  root: Principal
  signal: AbortSignal
  cleanup(): Promise<void>
}

export async function dataTestSetup(options: { seed?: number; settings?: Partial<DataManagementSettings> } = {}): Promise<DataTestSetup> {
  const seed = options.seed ?? 7
  const bootstrap = await testStoreSetup({}, seed)
  const keyRing = await KeyRing.open({ meta: bootstrap.meta, masterKey: masterKeyFromBytes(seededRandom(seed + 1).bytes(32)), random: seededRandom(seed + 2) })
  const chunkStore = await bootstrap.open({ keyRing })
  const objects = await openObjects({
    meta: bootstrap.meta,
    chunkStore,
    clock: bootstrap.clock,
    random: seededRandom(seed + 1000),
    rootCredentials: { accessKeyId: 'ROOTKEY', secretKey: 'root-secret' },
    chunking: { minBytes: 16 * 1024, averageBytes: 32 * 1024, maxBytes: 64 * 1024 },
    dataManagement: {
      dayMs: testDayMs,
      restoreDelaysMs: { Expedited: 100, Standard: 500, Bulk: 2000 },
      lifecycleIntervalMs: 1,
      keyDomains: keyRing,
      ...options.settings,
    },
  })
  return {
    objects,
    chunkStore,
    store: bootstrap,
    clock: bootstrap.clock,
    root: rootPrincipal('ROOTKEY'),
    signal: new AbortController().signal,
    async cleanup() {
      await objects.close()
      await chunkStore.close()
      await bootstrap.meta.close()
      await bootstrap.cleanup()
    },
  }
}

export async function put(setup: DataTestSetup, bucket: string, key: string, bytes: Buffer, extra: { storageClass?: StorageClass; tags?: Array<{ key: string; value: string }> } = {}) {
  return setup.objects.putObject({
    bucket,
    key,
    principal: setup.root,
    body: bodyOf(bytes),
    sizeBytes: bytes.length,
    digests: digestsFor(bytes),
    contentHeaders: {},
    userMetadata: {},
    signal: setup.signal,
    ...extra,
  })
}

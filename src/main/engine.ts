// The engine: the storage core of one server process (metadata store, master key, key ring,
// chunk store, later the object/volume/file layers), opened in dependency order and closed in
// reverse. This is the one file that wires the layers together; front-ends (admin now, S3/NBD/
// NFS later) get the Engine and nothing below it.
//
// Contract: openEngine either returns an Engine holding the data-dir lock or throws after
// closing everything it had opened (a LOCKED data dir is StoreError LOCKED with the holder's
// pid). close() is idempotent and releases the lock last. Maintenance operations an engine
// cannot run yet are absent (the admin API answers 503 "not available yet").
//
import { join } from 'node:path'
import { isStoreError, StoreError, systemClock, systemRandom, type Clock, type Random } from '../lib/index.ts'
import { nodeIo, type Io } from '../io/index.ts'
import { loadMasterKey, loadPreviousMasterKey, masterKeyIdHex, type MasterKey } from '../crypto/index.ts'
import type { MetaStore } from '../meta/index.ts'
import { ChunkStore, KeyRing, type ChunkStoreOptions, type ChunkStoreStats } from '../chunk/index.ts'
import { VolumeService } from '../volumes/index.ts'
import { openObjects, type ObjectsLayer } from '../objects/index.ts'
import { FileEngine } from '../files/index.ts'
import { addStatsGauges, type AdminEngine, type JsonObject, type MaintenanceOptions, type Registry } from '../admin/index.ts'
import type { ServerConfig } from './config.ts'
import { openDataDirMeta, removePidFile, writePidFile } from './data-dir.ts'
import { eventLogger, type Logger } from './logger.ts'
import { toJsonObject } from './json.ts'
import { Maintenance } from './maintenance.ts'

export interface EngineWorld {
  io: Io
  clock: Clock
  random: Random
}

export const systemWorld: EngineWorld = { io: nodeIo, clock: systemClock, random: systemRandom }

export interface Engine extends AdminEngine {
  readonly dataDir: string
  /**
   * The objects layer (S3 semantics) for the S3 front-end and the admin user commands. Always
   * set by openEngine (optional only so test doubles of Engine can leave it out).
   */
  readonly objects?: ObjectsLayer
  /** Add this engine's gauges to the process registry (values read at scrape time). */
  registerMetrics(registry: Registry): void
  /** The server bound a front-end listener: attach and mount hints name this port (config may say 0). */
  listenerBound?(listener: 'nbd' | 'nfs', port: number): void
  /** Start background maintenance (GC, compaction, scrub); bugs found there go to onBug. */
  startBackground(onBug: (error: Error) => void): void
  close(): Promise<void>
}

/** Something opened during openEngine, closed in reverse order. */
type Closer = { name: string; close: () => Promise<void> }

export async function openEngine(config: ServerConfig, logger: Logger, world: EngineWorld = systemWorld): Promise<Engine> {
  const { io, random } = world
  const closers: Closer[] = []
  try {
    await io.mkdirp(config.dataDir, 0o700)
    const meta = await openDataDirMeta(io, config.dataDir, 'stop it first, or give this server another --data-dir')
    closers.push({ name: 'metadata store', close: () => meta.close() })
    await writePidFile(io, config.dataDir)
    closers.push({ name: 'pid file', close: () => removePidFile(io, config.dataDir) })

    const { options, keyRing, masterKeyId, masterKeySource } = await chunkStoreOptions(config, logger, world, meta)
    const chunkStore = await ChunkStore.open(options)
    closers.push({ name: 'chunk store', close: () => chunkStore.close() })
    logRecovery(chunkStore, logger)
    // Volumes: after the chunk store, closed before it (closing flushes every live volume).
    const volumeBugs: VolumeBugSink = {}
    const volumes = await openVolumes(config, logger, world, { meta, chunkStore, keyRing }, volumeBugs)
    closers.push({ name: 'volume service', close: () => volumes.close() })
    // Objects layer: after the chunk store, closed before it (root credentials are set by the server).
    const objects = await openObjects({
      meta, chunkStore, clock: world.clock, random, ...(config.s3Region === undefined ? {} : { defaultRegion: config.s3Region }),
      // Lifecycle day, restore delays and the bucket key domains of SSE-S3 / SSE-KMS (docs/lifecycle.md, encryption.md).
      dataManagement: { dayMs: config.lifecycleDayMs, lifecycleIntervalMs: config.lifecycleIntervalMs, restoreDelaysMs: config.restoreDelaysMs, keyDomains: keyRing },
    })
    closers.push({ name: 'objects layer', close: () => objects.close() })
    // Files layer: after the chunk store, closed before it (closing flushes buffered writes).
    const fileBugs: VolumeBugSink = {}
    const files = await openFiles(config, logger, world, { meta, chunkStore }, fileBugs)
    closers.push({ name: 'files layer', close: () => files.close() })
    return new CairnEngine({ config, logger, world, meta, chunkStore, volumes, volumeBugs, objects, files, fileBugs, masterKeyId, masterKeySource, closers })
  } catch (error) {
    await closeAll(closers, logger)
    throw error
  }
}

/** Master key, key ring and the chunk store's options: shared by the server and offline repair. */
async function chunkStoreOptions(config: ServerConfig, logger: Logger, world: EngineWorld, meta: MetaStore) {
  const { io, random, clock } = world
  const loaded = await loadMasterKey({ io, dataDir: config.dataDir, envValue: config.masterKeyText, random })
  const masterKeyId = masterKeyIdHex(loaded.masterKey)
  logger.info({ masterKeyId, source: loaded.source, created: loaded.created }, 'master key loaded')
  const previous = await loadPreviousMasterKey({ io, dataDir: config.dataDir, envValue: config.previousMasterKeyText })
  const keyRing = await KeyRing.open({ meta, masterKey: loaded.masterKey, random, ...(previous && { previousMasterKey: previous.masterKey }) })
  await finishMasterKeyRotation(keyRing, loaded.masterKey, logger)
  const options: ChunkStoreOptions = {
    io,
    meta,
    keyRing,
    clock,
    random,
    tierPaths: { hot: join(config.dataDir, 'packs'), cold: config.coldDir },
    gcGraceMs: config.gcGraceMs,
    logger: eventLogger(logger.child({ component: 'chunk-store' })),
  }
  return { options, keyRing, masterKeyId, masterKeySource: loaded.source }
}

/**
 * Started with a new master key and the old one as previous (docs/format/keys.md 6.2): re-wrap
 * every domain key onto the new one before serving. Idempotent; an interrupted rotation resumes.
 */
async function finishMasterKeyRotation(keyRing: KeyRing, masterKey: MasterKey, logger: Logger): Promise<void> {
  const status = await keyRing.masterStatus()
  if (status.masterKeyId === masterKeyIdHex(masterKey) && status.rotatingTo === undefined) return
  logger.info({ from: status.masterKeyId, to: masterKeyIdHex(masterKey) }, 'rotating the master key: re-wrapping key domain data keys')
  const { rewrappedDomains } = await keyRing.rotateMaster(masterKey)
  logger.info({ rewrappedDomains, masterKeyId: masterKeyIdHex(masterKey) }, 'master key rotation finished; the previous key is no longer needed by this data dir')
}

/** Where bugs in background volume work go: the logger until startBackground hands over onBug. */
type VolumeBugSink = { onBug?: (error: Error) => void }

async function openVolumes(config: ServerConfig, logger: Logger, world: EngineWorld, core: { meta: MetaStore; chunkStore: ChunkStore; keyRing: KeyRing }, bugs: VolumeBugSink): Promise<VolumeService> {
  const volumeLogger = eventLogger(logger.child({ component: 'volumes' }))
  const volumes = await VolumeService.open({
    ...core,
    io: world.io,
    clock: world.clock,
    random: world.random,
    volumesDir: VolumeService.volumesDirOf(config.dataDir),
    log: (event, fields) => volumeLogger(event, fields),
    onBug: (error) => {
      logger.fatal({ err: error }, 'bug in background volume work')
      bugs.onBug?.(error)
    },
  })
  logger.info({ recovery: toJsonObject(volumes.recovery) }, 'volume service open')
  return volumes
}

/** Where NBD clients connect, for attach hints (a wildcard host becomes loopback; port 0 stays unknown until bound). */
function nbdTargetOf(config: ServerConfig, boundPort: number | undefined): { host: string; port: number } | undefined {
  const { host } = config.nbdAddress
  const port = boundPort ?? config.nbdAddress.port
  if (port === 0) return undefined
  return { host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port }
}

/** The files layer (file systems for NFS); its "day" is the S3 lifecycle day (--lifecycle-day-seconds). */
async function openFiles(config: ServerConfig, logger: Logger, world: EngineWorld, core: { meta: MetaStore; chunkStore: ChunkStore }, bugs: VolumeBugSink): Promise<FileEngine> {
  const files = await FileEngine.open({
    ...core,
    clock: world.clock,
    random: world.random,
    dayMs: config.lifecycleDayMs,
    lifecycleIntervalMs: config.lifecycleIntervalMs,
    freeBytes: () => world.io.freeBytes(config.dataDir),
    log: eventLogger(logger.child({ component: 'files' })),
    onBug: (error) => {
      logger.fatal({ err: error }, 'bug in background file system work')
      bugs.onBug?.(error)
    },
  })
  logger.info({ recovery: toJsonObject(files.recovery) }, 'files layer open')
  return files
}

/** Where NFS clients connect, for mount hints (a wildcard host becomes loopback; port 0 stays unknown until bound). */
function nfsTargetOf(config: ServerConfig, boundPort: number | undefined): { host: string; port: number } | undefined {
  const { host } = config.nfsAddress
  const port = boundPort ?? config.nfsAddress.port
  if (port === 0) return undefined
  return { host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port }
}

function logRecovery(chunkStore: ChunkStore, logger: Logger): void {
  const recovery = toJsonObject(chunkStore.recovery)
  logger.info({ recovery, hashAlgorithm: chunkStore.hashAlgorithm }, 'chunk store open')
}

interface EngineParts {
  config: ServerConfig
  logger: Logger
  world: EngineWorld
  meta: MetaStore
  chunkStore: ChunkStore
  volumes: VolumeService
  volumeBugs: VolumeBugSink
  objects: ObjectsLayer
  files: FileEngine
  fileBugs: VolumeBugSink
  masterKeyId: string
  masterKeySource: 'env' | 'file'
  closers: Closer[]
}

class CairnEngine implements Engine {
  readonly dataDir: string
  readonly volumes: VolumeService
  readonly objects: ObjectsLayer
  readonly files: FileEngine
  readonly #parts: EngineParts
  #maintenance: Maintenance | undefined
  #closing: Promise<void> | undefined

  constructor(parts: EngineParts) {
    this.#parts = parts
    this.dataDir = parts.config.dataDir
    this.volumes = parts.volumes
    this.objects = parts.objects
    this.files = parts.files
  }

  readonly scrub = async ({ signal }: MaintenanceOptions): Promise<JsonObject> => toJsonObject(await this.#parts.chunkStore.scrub({ signal }))
  readonly collectGarbage = async ({ signal }: MaintenanceOptions): Promise<JsonObject> =>
    toJsonObject(await this.#parts.chunkStore.collectGarbage({ signal }))
  readonly compact = async ({ signal }: MaintenanceOptions): Promise<JsonObject> => toJsonObject(await this.#parts.chunkStore.compact({ signal }))

  readonly #boundPorts: { nbd?: number; nfs?: number } = {}
  readonly nbdTarget = (): { host: string; port: number } | undefined => nbdTargetOf(this.#parts.config, this.#boundPorts.nbd)
  readonly nfsTarget = (): { host: string; port: number } | undefined => nfsTargetOf(this.#parts.config, this.#boundPorts.nfs)

  listenerBound(listener: 'nbd' | 'nfs', port: number): void {
    this.#boundPorts[listener] = port
  }

  startBackground(onBug: (error: Error) => void): void {
    this.#parts.volumeBugs.onBug = onBug
    this.#parts.fileBugs.onBug = onBug
    if (this.#maintenance !== undefined || this.#closing !== undefined) return
    const { chunkStore, logger, config } = this.#parts
    this.#maintenance = new Maintenance({
      chunkStore,
      logger: logger.child({ component: 'maintenance' }),
      maintenanceIntervalMs: config.maintenanceIntervalMs,
      scrubIntervalMs: config.scrubIntervalMs,
      onBug: (error) => onBug(error instanceof Error ? error : new TypeError(String(error))),
    })
    this.#maintenance.start()
    // S3 restores, tier moves and lifecycle rules (src/objects/lifecycle-background.ts).
    const objectsLogger = logger.child({ component: 'objects' })
    this.objects.startBackground({
      onError: (error, what) => objectsLogger.warn({ err: error, what }, 'objects background work failed; retrying'),
      onBug: (error) => onBug(error),
    })
  }

  async info(): Promise<JsonObject> {
    const { config, meta, world } = this.#parts
    return {
      dataDir: config.dataDir,
      coldDir: config.coldDir,
      dataDirFreeBytes: await world.io.freeBytes(config.dataDir),
      metaStore: { backend: 'leveldb', path: join(config.dataDir, 'meta'), shared: meta.capabilities.shared },
      masterKey: { id: this.#parts.masterKeyId, source: this.#parts.masterKeySource },
      gcGraceSeconds: config.gcGraceMs / 1000,
      chunkStore: toJsonObject({ hashAlgorithm: this.#parts.chunkStore.hashAlgorithm, ...this.#parts.chunkStore.stats() }),
      lastScrub: this.#maintenance?.lastScrub === undefined ? null : toJsonObject(this.#maintenance.lastScrub),
    }
  }

  registerMetrics(registry: Registry): void {
    const { config, world, logger } = this.#parts
    const onError = (error: unknown) => logger.warn({ err: error }, 'metrics: reading a stats source failed')
    addStatsGauges(registry, () => world.io.freeBytes(config.dataDir), [
      { name: 'cairn_data_dir_free_bytes', help: 'Free bytes on the filesystem holding the data dir', pick: (free) => free },
    ], onError)
    const { chunkStore } = this.#parts
    addStatsGauges(registry, async () => chunkStore.stats(), chunkStoreGauges, onError)
    addStatsGauges(registry, async () => this.objects.tieringStats(), [
      { name: 'cairn_s3_tiering_pending_accesses', help: 'INTELLIGENT_TIERING reads logged in memory, not yet written to metadata', pick: (s) => s.pendingAccesses },
      { name: 'cairn_s3_tiering_flushed_accesses', help: 'INTELLIGENT_TIERING reads written to metadata since start', pick: (s) => s.flushedAccesses },
      { name: 'cairn_s3_tiering_dropped_accesses', help: 'INTELLIGENT_TIERING reads dropped because the access log was full, since start', pick: (s) => s.droppedAccesses },
      { name: 'cairn_s3_tiering_to_infrequent', help: 'INTELLIGENT_TIERING versions moved to Infrequent Access (cold tier) since start', pick: (s) => s.to.INFREQUENT_ACCESS },
      { name: 'cairn_s3_tiering_to_archive_instant', help: 'INTELLIGENT_TIERING versions moved to Archive Instant Access (cold tier) since start', pick: (s) => s.to.ARCHIVE_INSTANT_ACCESS },
      { name: 'cairn_s3_tiering_to_archive', help: 'INTELLIGENT_TIERING versions moved to Archive Access (cold tier, restore needed) since start', pick: (s) => s.to.ARCHIVE_ACCESS },
      { name: 'cairn_s3_tiering_to_deep_archive', help: 'INTELLIGENT_TIERING versions moved to Deep Archive Access (cold tier, restore needed) since start', pick: (s) => s.to.DEEP_ARCHIVE_ACCESS },
      { name: 'cairn_s3_tiering_to_frequent', help: 'INTELLIGENT_TIERING versions brought back to Frequent Access (hot tier) by a read or a restore since start', pick: (s) => s.to.FREQUENT_ACCESS },
    ], onError)
    // Wrapped in an object: addStatsGauges reads undefined as a failed read (NaN).
    addStatsGauges(registry, async () => ({ last: this.#maintenance?.lastScrub }), [
      { name: 'cairn_scrub_last_corrupt_chunks', help: 'Corrupt chunks found by the last background scrub', pick: ({ last }) => last?.report.corrupt.length ?? 0 },
      { name: 'cairn_scrub_last_finished_seconds', help: 'When the last background scrub finished (unix seconds; 0: never)', pick: ({ last }) => (last?.finishedMs ?? 0) / 1000 },
    ], onError)
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Background tasks stop first so that no GC transaction races the chunk store's close.
      await this.#maintenance?.stop()
      await closeAll(this.#parts.closers, this.#parts.logger)
    })()
    return this.#closing
  }
}

/** Chunk-store counters and levels, read once per scrape. Counters only grow (per process). */
const chunkStoreGauges: Array<{ name: string; help: string; pick: (stats: ChunkStoreStats) => number }> = [
  { name: 'cairn_chunk_puts', help: 'Chunk puts since start (dedup hits included)', pick: (s) => s.puts },
  { name: 'cairn_chunk_dedup_hits', help: 'Chunk puts that found the chunk already stored', pick: (s) => s.dedupHits },
  { name: 'cairn_chunk_bytes_in', help: 'Plaintext bytes put since start', pick: (s) => s.bytesIn },
  { name: 'cairn_chunk_bytes_stored', help: 'Bytes written to packs since start (after dedup and compression)', pick: (s) => s.bytesStored },
  { name: 'cairn_chunk_gets', help: 'Chunk reads since start', pick: (s) => s.gets },
  { name: 'cairn_chunk_bytes_out', help: 'Plaintext bytes read since start', pick: (s) => s.bytesOut },
  { name: 'cairn_chunk_corrupt', help: 'Reads that found a corrupt chunk since start', pick: (s) => s.corrupt },
  { name: 'cairn_chunk_gc_collected', help: 'Chunks collected by GC since start', pick: (s) => s.gcCollectedChunks },
  { name: 'cairn_chunk_compacted_packs', help: 'Packs compacted since start', pick: (s) => s.compactedPacks },
  { name: 'cairn_chunk_compact_reclaimed_bytes', help: 'Bytes returned to the filesystem by compaction since start', pick: (s) => s.compactReclaimedBytes },
  { name: 'cairn_chunk_group_commits', help: 'Group commits (one fsync each) since start', pick: (s) => s.batches },
  { name: 'cairn_chunk_syncs', help: 'Pack fsyncs since start', pick: (s) => s.syncs },
  { name: 'cairn_packs_hot', help: 'Pack files in the hot tier', pick: (s) => s.packs.hot },
  { name: 'cairn_packs_cold', help: 'Pack files in the cold tier', pick: (s) => s.packs.cold },
  { name: 'cairn_pack_live_bytes', help: 'Bytes of located chunks in packs', pick: (s) => s.liveBytes },
  { name: 'cairn_pack_dead_bytes', help: 'Bytes in packs that compaction can reclaim', pick: (s) => s.deadBytes },
]

/** Close in reverse order of opening; every closer runs even if an earlier one failed. */
async function closeAll(closers: Closer[], logger: Logger): Promise<void> {
  let firstError: unknown
  for (const closer of closers.splice(0).reverse()) {
    try {
      await closer.close()
    } catch (error) {
      logger.error({ err: error }, `closing the ${closer.name} failed`)
      firstError ??= error
    }
  }
  if (firstError !== undefined) throw firstError
}

/**
 * `cairn repair --rebuild-index`: rebuild the metadata index from the packs, offline.
 * Returns undefined while the chunk store cannot do it yet.
 */
export async function rebuildIndexOffline(config: ServerConfig, logger: Logger, world: EngineWorld = systemWorld): Promise<JsonObject> {
  const { io } = world
  const closers: Closer[] = []
  try {
    // Never create a data dir here: repairing a mistyped path would only make an empty one.
    await io.readdir(config.dataDir).catch((error: unknown) => {
      throw isStoreError(error, 'NOT_FOUND') ? new StoreError('NOT_FOUND', `data dir ${config.dataDir} does not exist`, { cause: error }) : error
    })
    const meta = await openDataDirMeta(io, config.dataDir, 'stop the server before running `cairn repair`')
    closers.push({ name: 'metadata store', close: () => meta.close() })
    await writePidFile(io, config.dataDir)
    closers.push({ name: 'pid file', close: () => removePidFile(io, config.dataDir) })
    logger.debug({ dataDir: config.dataDir }, 'data dir locked for repair')
    const { options } = await chunkStoreOptions(config, logger, world, meta)
    return toJsonObject(await ChunkStore.rebuildIndex(options))
  } finally {
    await closeAll(closers, logger)
  }
}

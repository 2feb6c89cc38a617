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
// WIRING (lead): the places marked `WIRE:` below are where the key ring and chunk store plug in.
import { join } from 'node:path'
import { isStoreError, StoreError, systemClock, systemRandom, type Clock, type Random } from '../lib/index.ts'
import { nodeIo, type Io } from '../io/index.ts'
import { loadMasterKey, masterKeyIdHex } from '../crypto/index.ts'
import type { MetaStore } from '../meta/index.ts'
import { addStatsGauges, type AdminEngine, type JsonObject, type MaintenanceOptions, type Registry } from '../admin/index.ts'
import type { ServerConfig } from './config.ts'
import { openDataDirMeta, removePidFile, writePidFile } from './data-dir.ts'
import type { Logger } from './logger.ts'
// WIRE: import { eventLogger } from './logger.ts' to adapt the chunk store's (event, fields) logger.
// WIRE: import { toJsonObject } from './json.ts' for converting chunk-store results.

export interface EngineWorld {
  io: Io
  clock: Clock
  random: Random
}

export const systemWorld: EngineWorld = { io: nodeIo, clock: systemClock, random: systemRandom }

export interface Engine extends AdminEngine {
  readonly dataDir: string
  /** Add this engine's gauges to the process registry (values read at scrape time). */
  registerMetrics(registry: Registry): void
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

    const loaded = await loadMasterKey({ io, dataDir: config.dataDir, envValue: config.masterKeyText, random })
    const masterKeyId = masterKeyIdHex(loaded.masterKey)
    logger.info({ masterKeyId, source: loaded.source, created: loaded.created }, 'master key loaded')

    // WIRE: key ring and chunk store, e.g.
    //   const keyRing = await KeyRing.open({ meta, masterKey: loaded.masterKey, random })
    //   const chunkStore = await ChunkStore.open({ io, meta, keyRing, clock: world.clock, random,
    //     tierPaths: { hot: join(config.dataDir, 'packs'), cold: config.coldDir },
    //     gcGraceMs: config.gcGraceMs, logger: eventLogger(logger.child({ component: 'chunk-store' })) })
    //   closers.push({ name: 'chunk store', close: () => chunkStore.close() })
    // and pass chunkStore to new CairnEngine(...) below.

    return new CairnEngine({ config, logger, world, meta, masterKeyId, masterKeySource: loaded.source, closers })
  } catch (error) {
    await closeAll(closers, logger)
    throw error
  }
}

interface EngineParts {
  config: ServerConfig
  logger: Logger
  world: EngineWorld
  meta: MetaStore
  masterKeyId: string
  masterKeySource: 'env' | 'file'
  closers: Closer[]
}

class CairnEngine implements Engine {
  readonly dataDir: string
  readonly #parts: EngineParts
  #closing: Promise<void> | undefined

  // WIRE: define these once the chunk store exists, e.g.
  //   scrub = async ({ signal }: MaintenanceOptions) => toJsonObject(await chunkStore.scrub({ signal }))
  // Results must be plain JSON (convert bigint/Buffer/Map); they are sent as the HTTP body.
  readonly scrub: ((options: MaintenanceOptions) => Promise<JsonObject>) | undefined = undefined
  readonly collectGarbage: ((options: MaintenanceOptions) => Promise<JsonObject>) | undefined = undefined
  readonly compact: ((options: MaintenanceOptions) => Promise<JsonObject>) | undefined = undefined

  constructor(parts: EngineParts) {
    this.#parts = parts
    this.dataDir = parts.config.dataDir
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
      // WIRE: chunkStore: toJsonObject(await chunkStore.stats()),
      chunkStore: 'not available yet',
    }
  }

  registerMetrics(registry: Registry): void {
    const { config, world, logger } = this.#parts
    const onError = (error: unknown) => logger.warn({ err: error }, 'metrics: reading a stats source failed')
    addStatsGauges(registry, () => world.io.freeBytes(config.dataDir), [
      { name: 'cairn_data_dir_free_bytes', help: 'Free bytes on the filesystem holding the data dir', pick: (free) => free },
    ], onError)
    // WIRE: chunk store gauges, read once per scrape, e.g.
    //   addStatsGauges(registry, () => chunkStore.stats(), [
    //     { name: 'cairn_chunk_store_chunks', help: 'Chunks stored', pick: (s) => s.chunks },
    //     { name: 'cairn_chunk_store_live_bytes', help: 'Bytes of referenced chunks', pick: (s) => s.liveBytes },
    //   ], onError)
  }

  close(): Promise<void> {
    this.#closing ??= closeAll(this.#parts.closers, this.#parts.logger)
    return this.#closing
  }
}

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
export async function rebuildIndexOffline(config: ServerConfig, logger: Logger, world: EngineWorld = systemWorld): Promise<JsonObject | undefined> {
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
    // WIRE: load the master key and key ring as in openEngine, then
    //   return toJsonObject(await ChunkStore.rebuildIndex({ io, meta, keyRing, clock: world.clock, random: world.random,
    //     tierPaths: { hot: join(config.dataDir, 'packs'), cold: config.coldDir }, logger }))
    return undefined
  } finally {
    await closeAll(closers, logger)
  }
}

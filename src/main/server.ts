// `cairn server`: the long-running process. Start order: data dir -> engine (takes the data-dir
// lock) -> root credentials -> admin API -> S3 (HTTP + HTTPS) -> NBD -> NFS. Stop order is the
// reverse: mark unhealthy, stop accepting on every listener, let in-flight requests (HTTP, NBD
// commands, NFS compounds) finish (bounded by shutdownGraceMs, then connections are cut), close
// the engine (which flushes buffered file writes), exit 0.
//
// Invariants: nothing listens before the engine holds the lock, so a second start on the same
// data dir fails before binding anything. Generated credentials are shown once, on the
// terminal, never in the log. A bug (AssertionError/TypeError) is never survived: it is logged
// with its stack and the process exits 70.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { addStatsGauges, adminPlugin, createMetricsRegistry, type JsonObject } from '../admin/index.ts'
import { startS3Server, type RunningS3 } from '../s3/index.ts'
import { readSmallFile, type Io } from '../io/index.ts'
import { StoreError } from '../lib/index.ts'
import { startNbdServer, type NbdServer, type NbdTlsOptions } from '../nbd/index.ts'
import { startNfsServer, type NfsServer, type NfsStats } from '../nfs/index.ts'
import type { ExportProvider } from '../volumes/index.ts'
import { addressUrl, formatAddress, type Address } from './address.ts'
import type { ServerConfig } from './config.ts'
import { credentialsFromEnv, formatCredentialsAnnouncement, loadRootCredentials, type RootCredentials } from './credentials.ts'
import { openEngine, systemWorld, type Engine, type EngineWorld } from './engine.ts'
import type { Logger } from './logger.ts'
import { fileClientStore } from './nfs-clients.ts'
import { cairnVersion } from './version.ts'

/** In-flight requests get this long to finish at shutdown before connections are cut. */
export const shutdownGraceMs = 10_000
/** After this long the process exits even if closing the engine hangs. */
export const shutdownHardLimitMs = 30_000

/** Exit status for bugs (sysexits EX_SOFTWARE). */
export const bugExitCode = 70

export interface ServerOptions {
  config: ServerConfig
  logger: Logger
  /** The terminal, for the once-only credentials announcement (stderr). */
  announce: (text: string) => void
  /** Called with a bug caught inside a request handler: log and exit 70 (main) or record (tests). */
  onBug: (error: Error) => void
  world?: EngineWorld
  /** Default openEngine; tests pass an engine with controllable operations. */
  openEngine?: typeof openEngine
  /** Default shutdownGraceMs. */
  shutdownGraceMs?: number
}

export interface RunningServer {
  readonly adminUrl: string
  readonly engine: Engine
  /** Idempotent; resolves when everything is closed. */
  stop(reason: string): Promise<void>
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options
  const world = options.world ?? systemWorld
  const startedAtMs = world.clock.nowMs()
  // Validate before taking the lock: a config mistake must not depend on the data dir state.
  const fromEnv = credentialsFromEnv(config.rootAccessKeyText, config.rootSecretKeyText)
  logger.info({ version: cairnVersion, node: process.versions.node, dataDir: config.dataDir, configFile: config.configFile }, 'starting cairn server')
  const engine = await (options.openEngine ?? openEngine)(config, logger, world)
  let app: FastifyInstance | undefined
  let s3: RunningS3 | undefined
  let nbd: NbdServer | undefined
  let nfs: NfsServer | undefined
  try {
    const credentials = await rootCredentials(config, fromEnv, world, options, logger)
    // The objects layer answers SigV4 lookups of the root access key with these.
    engine.objects?.setRootCredentials({ accessKeyId: credentials.accessKey, secretKey: credentials.secretKey })
    const state = { shuttingDown: false, starting: true }
    const shutdownController = new AbortController()
    let adminUrl = addressUrl(config.adminAddress)
    const boundUrls: JsonObject = {}
    const nfsStats = (): NfsStats | undefined => nfs?.stats()
    app = await buildAdminApp({ config, logger, engine, credentials, state, shutdownSignal: shutdownController.signal, startedAtMs, world, onBug: options.onBug, adminUrl: () => adminUrl, boundUrls, nfsStats })
    adminUrl = await listen(app, config.adminAddress, '--admin-address')
    logger.info({ listener: 'admin', url: adminUrl }, `admin API listening on ${adminUrl}`)
    engine.startBackground(options.onBug)
    s3 = await startS3({ config, logger, engine, world, state, shutdownSignal: shutdownController.signal, onBug: options.onBug, boundUrls })
    nbd = await startNbd({ config, logger, engine, io: world.io, onBug: options.onBug, boundUrls })
    nfs = await startNfs({ config, logger, engine, world, onBug: options.onBug, boundUrls })
    state.starting = false // /health turns 200 only now, so a client that saw it finds every listener
    return { adminUrl, engine, stop: stopper({ app, s3, nbd, nfs, engine, state, shutdownController, logger, graceMs: options.shutdownGraceMs ?? shutdownGraceMs }) }
  } catch (error) {
    await nfs?.close(0).catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the NFS listener failed'))
    await nbd?.close({ graceMs: 0 }).catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the NBD listeners failed'))
    await s3?.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the S3 listeners failed'))
    await app?.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'closing the admin API failed'))
    await engine.close()
    throw error
  }
}

async function rootCredentials(
  config: ServerConfig,
  fromEnv: RootCredentials | undefined,
  world: EngineWorld,
  options: ServerOptions,
  logger: Logger,
): Promise<RootCredentials> {
  const loaded = await loadRootCredentials({ io: world.io, dataDir: config.dataDir, fromEnv, random: world.random, clock: world.clock })
  if (loaded.source === 'generated') options.announce(formatCredentialsAnnouncement(loaded.credentials, loaded.path))
  // The access key is an identifier, safe to log; the secret never is.
  logger.info({ source: loaded.source, accessKey: loaded.credentials.accessKey, path: loaded.source === 'env' ? undefined : loaded.path }, 'root credentials ready')
  return loaded.credentials
}

interface S3Parts {
  config: ServerConfig
  logger: Logger
  engine: Engine
  world: EngineWorld
  state: { shuttingDown: boolean; starting: boolean }
  shutdownSignal: AbortSignal
  onBug: (error: Error) => void
  boundUrls: JsonObject
}

/** The S3 API over HTTP and HTTPS (src/s3), on the engine's objects layer. */
async function startS3(parts: S3Parts): Promise<RunningS3 | undefined> {
  const { config, logger, engine, world, state } = parts
  if (engine.objects === undefined) {
    logger.warn('the engine has no objects layer: S3 listeners not started')
    return undefined
  }
  const level = config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn'
  const s3Logger = logger.child({ component: 's3' }, { level: config.logLevel === 'silent' ? 'silent' : level })
  const s3 = await startS3Server({
    objects: engine.objects,
    io: world.io,
    clock: world.clock,
    random: world.random,
    // Our logger follows pino's calling convention; fastify's type wants pino's generics.
    logger: s3Logger as unknown as FastifyBaseLogger,
    dataDir: config.dataDir,
    baseDomains: config.s3Domains,
    ...(config.s3Region === undefined ? {} : { region: config.s3Region }),
    httpAddress: config.s3Address,
    tlsAddress: config.s3TlsAddress,
    ...(config.s3TlsCertPath === undefined ? {} : { tlsCertPath: config.s3TlsCertPath }),
    ...(config.s3TlsKeyPath === undefined ? {} : { tlsKeyPath: config.s3TlsKeyPath }),
    isShuttingDown: () => state.shuttingDown,
    shutdownSignal: parts.shutdownSignal,
    onBug: parts.onBug,
    listen: (app, address, flag) => listen(app, address, flag),
  })
  logger.info({ listener: 's3', url: s3.url }, `S3 API listening on ${s3.url}`)
  logger.info({ listener: 's3-tls', url: s3.tlsUrl, certificate: s3.tls.certPath, certificateSource: s3.tls.source }, `S3 API (TLS) listening on ${s3.tlsUrl}`)
  parts.boundUrls.s3 = s3.url
  parts.boundUrls['s3-tls'] = s3.tlsUrl
  return s3
}

interface NbdParts {
  config: ServerConfig
  logger: Logger
  engine: Engine
  io: Io
  onBug: (error: Error) => void
  boundUrls: JsonObject
}

/** NBD on --nbd-address and --nbd-socket (src/nbd), serving the engine's volumes and snapshots. */
async function startNbd(parts: NbdParts): Promise<NbdServer | undefined> {
  const { config, logger, engine } = parts
  // The volume service is the ExportProvider: volume ids read-write, snapshot ids read-only.
  const provider: ExportProvider | undefined = engine.volumes
  if (provider === undefined) {
    logger.warn({ listener: 'nbd', address: formatAddress(config.nbdAddress) }, 'the engine has no volumes layer: NBD listeners not started')
    return undefined
  }
  const tls = await nbdTls(parts.io, config)
  let nbd: NbdServer
  try {
    nbd = await startNbdServer({ provider, tcpAddress: config.nbdAddress, socketPath: config.nbdSocket, tls, logger: logger.child({ component: 'nbd' }), onBug: parts.onBug })
  } catch (error) {
    const failed = (error as { address?: unknown }).address === config.nbdSocket && config.nbdSocket !== undefined ? `--nbd-socket ${config.nbdSocket}` : `--nbd-address ${formatAddress(config.nbdAddress)}`
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('E')) throw new ListenError(`${failed} ${bindFailure(code)}`, { cause: error })
    throw error
  }
  const tcpUrl = `nbd://${formatAddress({ host: config.nbdAddress.host, port: nbd.addresses.tcp?.port ?? config.nbdAddress.port })}`
  logger.info({ listener: 'nbd', url: tcpUrl, tls: tls !== undefined }, `NBD listening on ${tcpUrl}${tls === undefined ? '' : ' (STARTTLS required)'}`)
  parts.boundUrls.nbd = tcpUrl
  if (nbd.addresses.tcp !== undefined) engine.listenerBound?.('nbd', nbd.addresses.tcp.port)
  if (nbd.addresses.socketPath !== undefined) {
    const socketUrl = `nbd+unix:///?socket=${nbd.addresses.socketPath}`
    logger.info({ listener: 'nbd-socket', url: socketUrl }, `NBD listening on ${nbd.addresses.socketPath}`)
    parts.boundUrls['nbd-socket'] = socketUrl
  }
  return nbd
}

interface NfsParts {
  config: ServerConfig
  logger: Logger
  engine: Engine
  world: EngineWorld
  onBug: (error: Error) => void
  boundUrls: JsonObject
}

/** NFSv4.0/4.1 on --nfs-address (src/nfs), serving the engine's file systems at /<name> and /<fs-id>. */
async function startNfs(parts: NfsParts): Promise<NfsServer | undefined> {
  const { config, logger, engine, world } = parts
  if (engine.files === undefined) {
    logger.warn({ listener: 'nfs', address: formatAddress(config.nfsAddress) }, 'the engine has no files layer: NFS listener not started')
    return undefined
  }
  let nfs: NfsServer
  try {
    nfs = await startNfsServer({
      files: engine.files,
      address: config.nfsAddress,
      logger: logger.child({ component: 'nfs' }),
      clock: world.clock,
      random: world.random,
      leaseMs: config.nfsLeaseMs,
      graceMs: config.nfsGraceMs,
      clientStore: fileClientStore(world.io, config.dataDir),
      onBug: parts.onBug,
    })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('E')) throw new ListenError(`--nfs-address ${formatAddress(config.nfsAddress)} ${bindFailure(code)}`, { cause: error })
    throw error
  }
  const url = `nfs://${formatAddress({ host: config.nfsAddress.host, port: nfs.port })}`
  logger.info({ listener: 'nfs', url, leaseMs: config.nfsLeaseMs }, `NFS listening on ${url} (exports /<file system name> and /<file system id>)`)
  parts.boundUrls.nfs = url
  engine.listenerBound?.('nfs', nfs.port)
  return nfs
}

async function nbdTls(io: Io, config: ServerConfig): Promise<NbdTlsOptions | undefined> {
  if (config.nbdTlsCertPath === undefined || config.nbdTlsKeyPath === undefined) return undefined
  const cert = await readSmallFile(io, config.nbdTlsCertPath)
  const key = await readSmallFile(io, config.nbdTlsKeyPath)
  if (cert === undefined) throw new StoreError('NOT_FOUND', `--nbd-tls-cert ${config.nbdTlsCertPath} does not exist`)
  if (key === undefined) throw new StoreError('NOT_FOUND', `--nbd-tls-key ${config.nbdTlsKeyPath} does not exist`)
  return { cert, key, required: true }
}

interface AdminAppParts {
  config: ServerConfig
  logger: Logger
  engine: Engine
  credentials: RootCredentials
  state: { shuttingDown: boolean; starting: boolean }
  shutdownSignal: AbortSignal
  startedAtMs: number
  world: EngineWorld
  onBug: (error: Error) => void
  adminUrl: () => string
  /** Front-end listener name -> URL, filled in as they bind (shown by /admin/v1/info). */
  boundUrls: JsonObject
  /** The NFS server's protocol state counts, once it runs. */
  nfsStats: () => NfsStats | undefined
}

async function buildAdminApp(parts: AdminAppParts): Promise<FastifyInstance> {
  const { config, logger, engine, credentials, state, shutdownSignal, startedAtMs, world, onBug, adminUrl, boundUrls } = parts
  // fastify logs only its "Server listening" line at info; we log our own structured one, so
  // its logger starts at warn unless the operator asked for more detail.
  const level = config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn'
  const adminLogger = logger.child({ component: 'admin' }, { level: config.logLevel === 'silent' ? 'silent' : level })
  const app = Fastify({
    // Our logger follows pino's calling convention; fastify's type wants pino's generics.
    loggerInstance: adminLogger as unknown as FastifyBaseLogger,
    // Health checks and scrapes every few seconds would drown the log; errors are logged by the plugin.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  })
  // While stopping, answers close their connection, so keep-alive clients do not hold the
  // shutdown open until the grace period ends.
  app.addHook('onSend', async (_request, reply) => {
    if (state.shuttingDown) reply.header('connection', 'close')
  })
  const registry = createMetricsRegistry({ version: cairnVersion })
  engine.registerMetrics(registry)
  addNfsGauges(registry, parts.nfsStats)
  await app.register(adminPlugin, {
    engine,
    credentials,
    registry,
    version: cairnVersion,
    clock: world.clock,
    startedAtMs,
    isShuttingDown: () => state.shuttingDown,
    isStarting: () => state.starting,
    listeners: () => ({ admin: adminUrl(), ...boundUrls }),
    shutdownSignal,
    onBug,
  })
  return app
}

/** NFS protocol state on /metrics; NaN until the NFS listener runs. */
function addNfsGauges(registry: Parameters<typeof addStatsGauges>[0], read: () => NfsStats | undefined): void {
  const stats = async (): Promise<NfsStats> => read() ?? { clients: Number.NaN, states: Number.NaN, sessions: Number.NaN, graceActive: false }
  addStatsGauges(registry, stats, [
    { name: 'cairn_nfs_clients', help: 'NFS clients known to the server (confirmed or not)', pick: (s) => s.clients },
    { name: 'cairn_nfs_states', help: 'NFS open and lock stateids held by clients', pick: (s) => s.states },
    { name: 'cairn_nfs_sessions', help: 'NFSv4.1 sessions', pick: (s) => s.sessions },
    { name: 'cairn_nfs_grace_active', help: '1 while the NFS grace period after a start lasts (only reclaims accepted)', pick: (s) => (s.graceActive ? 1 : 0) },
  ])
}

export class ListenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'ListenError'
  }
}

/** Listen and return the URL actually bound (port 0 becomes the port the OS chose). */
async function listen(app: FastifyInstance, address: Address, flag: string): Promise<string> {
  try {
    await app.listen({ host: address.host, port: address.port })
  } catch (error) {
    throw new ListenError(`${flag} ${formatAddress(address)} ${bindFailure((error as { code?: unknown }).code)}`, { cause: error })
  }
  const bound = app.server.address() as AddressInfo
  return addressUrl({ host: address.host, port: bound.port })
}

function bindFailure(code: unknown): string {
  return code === 'EADDRINUSE' ? 'is already in use' : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : code === 'EACCES' ? 'needs privileges to bind' : `cannot be bound (${String(code)})`
}

interface StopParts {
  app: FastifyInstance
  s3: RunningS3 | undefined
  nbd: NbdServer | undefined
  nfs: NfsServer | undefined
  engine: Engine
  state: { shuttingDown: boolean; starting: boolean }
  shutdownController: AbortController
  logger: Logger
  graceMs: number
}

function stopper({ app, s3, nbd, nfs, engine, state, shutdownController, logger, graceMs }: StopParts): (reason: string) => Promise<void> {
  let stopping: Promise<void> | undefined
  const stop = async (reason: string): Promise<void> => {
    state.shuttingDown = true
    logger.info({ reason }, 'shutting down: no new requests; waiting for in-flight ones')
    const grace = setTimeout(() => {
      logger.warn({ graceMs }, 'in-flight requests did not finish in time; cancelling them')
      shutdownController.abort(new Error('server shutting down'))
      app.server.closeAllConnections()
      s3?.closeAllConnections()
    }, graceMs)
    try {
      // NBD sessions get ESHUTDOWN for new requests and end once idle; NFS connections stop
      // reading new calls and end once their compounds answered. Stuck ones are cut at graceMs.
      await Promise.all([app.close(), s3?.close(), nbd?.close({ graceMs }), nfs?.close(graceMs)])
    } finally {
      clearTimeout(grace)
    }
    await engine.close()
    logger.info('stopped')
  }
  return (reason) => {
    stopping ??= stop(reason)
    return stopping
  }
}

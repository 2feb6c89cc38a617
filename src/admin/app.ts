// The admin API as an encapsulated fastify plugin:
//   GET  /health             200 {status:'ok',...}; 503 {status:'starting'|'shutting-down',...}
//                            until every listener is bound / once stopping
//   GET  /metrics            Prometheus text format (unauthenticated, like most exporters)
//   GET  /admin/v1/info      server and store information            (HTTP Basic, root keys)
//   POST /admin/v1/scrub     verify every chunk now                   (HTTP Basic, root keys)
//   POST /admin/v1/gc        collect unreferenced chunks now          (HTTP Basic, root keys)
//   POST /admin/v1/compact   rewrite packs with mostly dead data now  (HTTP Basic, root keys)
//   /admin/v1/volumes..., /admin/v1/snapshots...  block volumes (volumes.ts; HTTP Basic, root keys)
//   /admin/v1/users...       S3 users and access keys (users.ts; HTTP Basic, root keys)
//   /admin/v1/kms/keys...    the built-in KMS's keys (kms.ts; HTTP Basic, root keys)
//   /admin/v1/filesystems... file systems (filesystems.ts; HTTP Basic, root keys)
//
// Contract: every response body is JSON except /metrics. Errors are {error, code?}: StoreError
// codes map to statuses in errors.ts; an AssertionError/TypeError from a handler is a bug,
// answered with 500 and reported through onBug (main/ logs it and exits). A maintenance
// operation the engine does not offer yet answers 503 {"error":"not available yet"}; one
// that is already running answers 409.
import { AssertionError } from 'node:assert'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isStoreError, type Clock } from '../lib/index.ts'
import { isAuthorized, type AdminCredentials } from './auth.ts'
import { httpStatusOf } from './errors.ts'
import type { Registry } from './metrics.ts'
import type { VolumeService } from '../volumes/index.ts'
import { volumeRoutes, type NbdTarget } from './volumes.ts'
import type { KeyManagement, UserService } from '../objects/index.ts'
import { userRoutes } from './users.ts'
import { kmsRoutes } from './kms.ts'
import type { FileEngine } from '../files/index.ts'
import { fileSystemRoutes, type NfsTarget } from './filesystems.ts'

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

export interface MaintenanceOptions {
  /** Fires when the server gives up waiting for in-flight requests at shutdown. */
  signal: AbortSignal
}

/** What the admin API needs from the storage engine (main/engine.ts implements it). */
export interface AdminEngine {
  info(): Promise<JsonObject>
  /** Absent until the engine offers it: the route answers 503 "not available yet". */
  scrub?: (options: MaintenanceOptions) => Promise<JsonObject>
  collectGarbage?: (options: MaintenanceOptions) => Promise<JsonObject>
  compact?: (options: MaintenanceOptions) => Promise<JsonObject>
  /** Block volumes and snapshots (routes in volumes.ts); absent: those routes are not registered. */
  volumes?: VolumeService
  /** Where NBD clients connect, for attach hints in volume answers. */
  nbdTarget?: () => NbdTarget | undefined
  /** The objects layer's users and KMS (routes in users.ts, kms.ts); absent: they answer 503 "not available yet". */
  readonly objects?: { readonly users: UserService; readonly kms?: KeyManagement }
  /** File systems (routes in filesystems.ts); absent: those routes are not registered. */
  readonly files?: FileEngine
  /** Where NFS clients connect, for mount hints in file system answers. */
  nfsTarget?: () => NfsTarget | undefined
}

export interface AdminOptions {
  engine: AdminEngine
  credentials: AdminCredentials
  registry: Registry
  version: string
  clock: Clock
  startedAtMs: number
  isShuttingDown: () => boolean
  /** True until every listener is bound: /health answers 503 "starting" meanwhile. */
  isStarting?: () => boolean
  /** Listener name -> URL or state, shown by /admin/v1/info. */
  listeners: () => JsonObject
  /** Aborted by main/ when the shutdown grace period ends. */
  shutdownSignal: AbortSignal
  /** Called with an AssertionError/TypeError that escaped a handler: a bug. */
  onBug: (error: Error) => void
}

const healthSchema = {
  response: {
    '2xx': { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'integer' } } },
    '5xx': { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'integer' } } },
  },
} as const

type MaintenanceName = 'scrub' | 'collectGarbage' | 'compact'

export async function adminPlugin(app: FastifyInstance, options: AdminOptions): Promise<void> {
  const uptimeSeconds = (): number => Math.max(0, Math.floor((options.clock.nowMs() - options.startedAtMs) / 1000))

  app.setErrorHandler(async (error: unknown, request, reply) => replyWithError(error, request, reply, options))
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'no such route' }))

  app.get('/health', { schema: healthSchema }, async (_request, reply) => {
    const status = options.isShuttingDown() ? 'shutting-down' : options.isStarting?.() === true ? 'starting' : 'ok'
    reply.header('cache-control', 'no-store')
    return reply.code(status === 'ok' ? 200 : 503).send({ status, version: options.version, uptimeSeconds: uptimeSeconds() })
  })

  app.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics()
    return reply.header('content-type', options.registry.contentType).header('cache-control', 'no-store').send(text)
  })

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        if (isAuthorized(request.headers.authorization, options.credentials)) return
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="cairn admin", charset="UTF-8"')
          .send({ error: 'authentication required: HTTP Basic with the root access key and secret key' })
      })
      scope.get('/info', async () => ({
        version: options.version,
        uptimeSeconds: uptimeSeconds(),
        listeners: options.listeners(),
        ...(await options.engine.info()),
      }))
      const running = new Set<MaintenanceName>()
      const maintenanceRoute = (path: string, name: MaintenanceName) =>
        scope.post(path, async (_request, reply) => runMaintenance(name, running, options, reply))
      maintenanceRoute('/scrub', 'scrub')
      maintenanceRoute('/gc', 'collectGarbage')
      maintenanceRoute('/compact', 'compact')
      userRoutes(scope, () => options.engine.objects?.users)
      kmsRoutes(scope, () => options.engine.objects?.kms)
      const volumes = options.engine.volumes
      if (volumes !== undefined) {
        await scope.register(volumeRoutes, { volumes, nbdTarget: () => options.engine.nbdTarget?.(), shutdownSignal: options.shutdownSignal })
      }
      const files = options.engine.files
      if (files !== undefined) await scope.register(fileSystemRoutes, { files, nfsTarget: () => options.engine.nfsTarget?.() })
    },
    { prefix: '/admin/v1' },
  )
}

async function runMaintenance(name: MaintenanceName, running: Set<MaintenanceName>, options: AdminOptions, reply: FastifyReply) {
  const operation = options.engine[name]
  if (operation === undefined) return reply.code(503).send({ error: 'not available yet' })
  if (running.has(name)) return reply.code(409).send({ error: `${name} is already running` })
  running.add(name)
  try {
    return await operation.call(options.engine, { signal: options.shutdownSignal })
  } finally {
    running.delete(name)
  }
}

async function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply, options: AdminOptions) {
  const statusCode = (error as { statusCode?: unknown }).statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // fastify's own client errors (bad JSON, unsupported media type, ...).
    return reply.code(statusCode).send({ error: (error as Error).message })
  }
  if (isStoreError(error)) {
    const status = httpStatusOf(error.code)
    if (status >= 500) request.log.error({ err: error }, 'admin request failed')
    return reply.code(status).send({ error: error.message, code: error.code })
  }
  if (isBug(error)) {
    request.log.fatal({ err: error }, 'bug in an admin request handler')
    options.onBug(error)
    return reply.code(500).send({ error: 'internal error (a bug; see the server log)' })
  }
  request.log.error({ err: error }, 'admin request failed')
  return reply.code(500).send({ error: 'internal error (see the server log)' })
}

/** Assertion failures and type errors are bugs; other errors are operational. */
export function isBug(error: unknown): error is Error {
  return error instanceof AssertionError || error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError
}

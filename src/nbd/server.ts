// The NBD server: TCP and/or Unix-socket listeners, one Connection per client, shutdown.
//
// Contract: startNbdServer resolves once every requested listener is bound (port 0 becomes the
// port chosen) or rejects with the listen error after closing whatever it had bound. close()
// is idempotent: it stops accepting, refuses new options and requests with SHUTDOWN errors,
// lets in-flight requests finish for up to graceMs, then aborts and cuts what is left; it
// resolves once every connection has released its export. The Unix socket is created mode
// 0600 (whoever can connect can read and write every volume) and removed at close; a stale
// socket file left by a crashed server is replaced, any other existing file is an error.
import { chmod, lstat, unlink } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { createSecureContext } from 'node:tls'
import { nbdLimits, StoreError } from '../lib/index.ts'
import type { ExportProvider } from '../volumes/api.ts'
import { BufferPool } from './buffer-pool.ts'
import { Connection, type TlsSettings } from './connection.ts'
import type { NbdLimits, NbdLogger } from './session.ts'

export interface NbdTlsOptions {
  /** PEM certificate chain and private key. */
  cert: string | Buffer
  key: string | Buffer
  /** Default true (FORCEDTLS): options other than STARTTLS are refused until TLS is up. */
  required?: boolean
}

export interface NbdServerOptions {
  provider: ExportProvider
  tcpAddress?: { host: string; port: number }
  socketPath?: string
  tls?: NbdTlsOptions
  logger: NbdLogger
  /** Overrides of src/lib/limits.ts nbdLimits (tests shrink timeouts and budgets). */
  limits?: Partial<NbdLimits>
  /** A bug (non-StoreError) below the edge; default: log it. main/ exits the process. */
  onBug?: (error: Error) => void
}

export interface NbdServerAddresses {
  tcp: { host: string; port: number } | undefined
  socketPath: string | undefined
}

export interface NbdServer {
  readonly addresses: NbdServerAddresses
  /** Open connections (for tests and metrics). */
  readonly connectionCount: number
  close(options?: { graceMs?: number }): Promise<void>
}

export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const limits: NbdLimits = { ...nbdLimits, ...options.limits }
  const { logger } = options
  const onBug = options.onBug ?? ((error: Error) => logger.error({ err: error }, 'bug in the NBD server'))
  const tls: TlsSettings | undefined = options.tls === undefined
    ? undefined
    : { context: createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }), required: options.tls.required ?? true }
  const connections = new Map<Connection, Promise<void>>()
  const state = { closing: false }
  const bufferPool = new BufferPool(limits.bufferPoolRetainBytesMax)

  const accept = (socket: Socket, clientKey: string): void => {
    if (state.closing || connections.size >= limits.connectionsMax) {
      logger.warn({ client: clientKey, connections: connections.size }, state.closing ? 'NBD connection refused: shutting down' : 'NBD connection refused: too many connections')
      socket.destroy()
      return
    }
    const connection = new Connection({ socket, adopt: true, clientKey, provider: options.provider, limits, logger, tls, bufferPool, onBug })
    connections.set(connection, connection.run().finally(() => connections.delete(connection)))
  }

  const listeners: Server[] = []
  let tcp: NbdServerAddresses['tcp']
  let socketPath: string | undefined
  try {
    if (options.tcpAddress !== undefined) {
      const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => accept(socket, `tcp:${socket.remoteAddress ?? 'unknown'}`))
      listeners.push(server)
      const port = await listenTcp(server, options.tcpAddress)
      tcp = { host: options.tcpAddress.host, port }
    }
    if (options.socketPath !== undefined) {
      const path = options.socketPath
      const server = createServer({ pauseOnConnect: true }, (socket) => accept(socket, `unix:${path}`))
      await removeStaleSocket(path)
      listeners.push(server)
      await listenUnix(server, path)
      socketPath = path
    }
  } catch (error) {
    await Promise.all(listeners.map(closeListener))
    throw error
  }

  let closing: Promise<void> | undefined
  const close = async (graceMs: number): Promise<void> => {
    state.closing = true
    const listenersClosed = Promise.all(listeners.map(closeListener))
    for (const connection of connections.keys()) connection.beginClose()
    const cut = setTimeout(() => {
      for (const connection of connections.keys()) connection.destroy('server shutting down')
    }, graceMs)
    try {
      await Promise.all(connections.values())
    } finally {
      clearTimeout(cut)
    }
    await listenersClosed
    // net.Server removes its socket file on close; this covers a listener that failed half-way.
    if (socketPath !== undefined) {
      await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') logger.warn({ err: error, path: socketPath }, 'removing the NBD socket failed')
      })
    }
  }
  return {
    addresses: { tcp, socketPath },
    get connectionCount() {
      return connections.size
    },
    close: (closeOptions) => {
      closing ??= close(closeOptions?.graceMs ?? limits.closeGraceMs)
      return closing
    },
  }
}

function listenTcp(server: Server, address: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', reject)
      const bound = server.address()
      resolve(typeof bound === 'object' && bound !== null ? bound.port : address.port)
    })
  })
}

async function listenUnix(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ path }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(path, 0o600)
}

/** A socket file nobody listens on is left from a crash: remove it. Anything else is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (stat === undefined) return
  if (!stat.isSocket()) throw new StoreError('ALREADY_EXISTS', `--nbd-socket ${path} exists and is not a socket`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect({ path })
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    // ECONNREFUSED is the answer we probe for (nobody listens): not an error to report.
    probe.once('error', () => resolve(false))
  })
  if (live) throw new StoreError('ALREADY_EXISTS', `--nbd-socket ${path} is in use by another server`)
  await unlink(path)
}

function closeListener(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve()
      return
    }
    server.close(() => resolve())
  })
}

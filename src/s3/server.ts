// The S3 listeners: one fastify app (app.ts) over HTTP on --s3-address and one over HTTPS on
// --s3-tls-address, sharing the objects layer. TLS material comes from tls.ts. Start binds
// both or neither (a failed second bind closes the first); close() lets in-flight requests
// finish (fastify's close waits for them) while idle keep-alive connections are closed at once;
// closeAllConnections() cuts the rest when the server's grace period ends.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Io } from '../io/index.ts'
import type { Clock, Random } from '../lib/index.ts'
import type { ObjectsService } from '../objects/index.ts'
import { buildS3App } from './app.ts'
import { loadTlsMaterial, type TlsMaterial } from './tls.ts'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface S3ServerOptions {
  readonly objects: ObjectsService
  readonly io: Io
  readonly clock: Clock
  readonly random: Random
  readonly logger?: FastifyBaseLogger
  readonly dataDir: string
  readonly baseDomains: readonly string[]
  readonly region?: string
  readonly httpAddress: ListenAddress
  readonly tlsAddress: ListenAddress
  readonly tlsCertPath?: string
  readonly tlsKeyPath?: string
  readonly isShuttingDown: () => boolean
  readonly shutdownSignal: AbortSignal
  readonly onBug: (error: Error) => void
  /** Bind an app and return its URL (main/ owns the wording of bind failures). */
  readonly listen: (app: FastifyInstance, address: ListenAddress, flag: string) => Promise<string>
}

export interface RunningS3 {
  readonly url: string
  readonly tlsUrl: string
  readonly tls: Pick<TlsMaterial, 'source' | 'certPath'>
  close(): Promise<void>
  closeAllConnections(): void
}

export async function startS3Server(options: S3ServerOptions): Promise<RunningS3> {
  const tls = await loadTlsMaterial({
    io: options.io,
    clock: options.clock,
    dataDir: options.dataDir,
    hostnames: options.baseDomains,
    ...(options.tlsCertPath === undefined ? {} : { certPath: options.tlsCertPath }),
    ...(options.tlsKeyPath === undefined ? {} : { keyPath: options.tlsKeyPath }),
  })
  const common = {
    objects: options.objects,
    clock: options.clock,
    random: options.random,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    baseDomains: options.baseDomains,
    ...(options.region === undefined ? {} : { region: options.region }),
    isShuttingDown: options.isShuttingDown,
    shutdownSignal: options.shutdownSignal,
    onBug: options.onBug,
  }
  const apps: FastifyInstance[] = []
  try {
    const http = buildS3App(common)
    apps.push(http)
    const url = await options.listen(http, options.httpAddress, '--s3-address')
    const https = buildS3App({ ...common, https: { key: tls.key, cert: tls.cert } })
    apps.push(https)
    const tlsUrl = (await options.listen(https, options.tlsAddress, '--s3-tls-address')).replace(/^http:/, 'https:')
    return {
      url,
      tlsUrl,
      tls: { source: tls.source, certPath: tls.certPath },
      close: async () => {
        await Promise.all(apps.map((app) => app.close()))
      },
      closeAllConnections: () => {
        for (const app of apps) app.server.closeAllConnections()
      },
    }
  } catch (error) {
    await Promise.allSettled(apps.map((app) => app.close()))
    throw error
  }
}

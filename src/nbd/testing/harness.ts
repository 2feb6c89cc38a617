// Test harness: an NBD server on 127.0.0.1 port 0 and a Unix socket in a temp dir, serving
// in-memory exports, with its log lines and bugs captured and everything closed at teardown.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNbdServer, type NbdServer, type NbdTlsOptions } from '../server.ts'
import type { NbdLimits, NbdLogger } from '../session.ts'
import { MemoryExportProvider, type MemoryExportOptions } from './memory-provider.ts'
import { RawNbdClient } from './raw-client.ts'

const MiB = 1024 * 1024

/** 'vol': 8 MiB, 512-byte minimum, 1 MiB maximum; 'snap': 1 MiB read-only with contents. */
export const defaultExports: MemoryExportOptions[] = [
  { name: 'vol', sizeBytes: 8 * MiB, description: 'a test volume', blockSizes: { minimumBytes: 512, preferredBytes: 4096, maximumBytes: 1 * MiB } },
  { name: 'snap', sizeBytes: 1 * MiB, readOnly: true, contents: Buffer.alloc(4096, 0x5a) },
]

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error'
  fields: object
  message: string
}

export interface TestServer {
  readonly server: NbdServer
  readonly provider: MemoryExportProvider
  readonly port: number
  readonly socketPath: string
  readonly bugs: Error[]
  readonly logs: LogRecord[]
  connect(via?: 'tcp' | 'unix'): Promise<RawNbdClient>
}

export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface TestServerOptions {
  exports?: MemoryExportOptions[]
  limits?: Partial<NbdLimits>
  tls?: NbdTlsOptions
}

export function captureLogger(logs: LogRecord[]): NbdLogger {
  const method = (level: LogRecord['level']) => (first: string | object, message?: string): void => {
    logs.push(typeof first === 'string' ? { level, fields: {}, message: first } : { level, fields: first, message: message ?? '' })
  }
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') }
}

export async function startTestServer(t: Teardown, options: TestServerOptions = {}): Promise<TestServer> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-nbd-'))
  const socketPath = join(directory, 'nbd.sock')
  const provider = new MemoryExportProvider(options.exports ?? defaultExports)
  const bugs: Error[] = []
  const logs: LogRecord[] = []
  const clients: RawNbdClient[] = []
  const server = await startNbdServer({
    provider,
    tcpAddress: { host: '127.0.0.1', port: 0 },
    socketPath,
    logger: captureLogger(logs),
    limits: options.limits,
    tls: options.tls,
    onBug: (error) => bugs.push(error),
  })
  const port = server.addresses.tcp?.port ?? 0
  t.teardown(async () => {
    for (const client of clients) client.close()
    await server.close({ graceMs: 1000 })
    rmSync(directory, { recursive: true, force: true })
  })
  return {
    server, provider, port, socketPath, bugs, logs,
    async connect(via = 'tcp') {
      const client = await RawNbdClient.connect(via === 'tcp' ? { port } : { path: socketPath })
      clients.push(client)
      return client
    },
  }
}

/** Resolve when `condition` holds, polling; reject after timeoutMs (tests only). */
export async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

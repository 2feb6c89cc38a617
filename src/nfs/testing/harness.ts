// Test harness: an NFS server on a free port over an in-memory file service, torn down with the test.
import type { Test } from 'tap'
import { ManualClock } from '../../lib/index.ts'
import { silentNfsLogger } from '../log.ts'
import { startNfsServer, type NfsServer } from '../server.ts'
import { MemoryFileService, type MemoryFileSystemOptions } from './memory-fs.ts'
import { NfsTestClient } from './nfs-client.ts'

export interface Harness {
  readonly server: NfsServer
  readonly files: MemoryFileService
  readonly clock: ManualClock
  readonly bugs: Error[]
  connect(minorVersion?: number): Promise<NfsTestClient>
}

export async function startHarness(t: Test, options: { fileSystems?: MemoryFileSystemOptions[]; leaseMs?: number; graceMs?: number } = {}): Promise<Harness> {
  const clock = new ManualClock(Date.now())
  const files = new MemoryFileService({ fileSystems: options.fileSystems ?? [{ name: 'export' }], clock })
  const bugs: Error[] = []
  const server = await startNfsServer({
    files, clock, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, leaseMs: options.leaseMs ?? 60_000,
    graceMs: options.graceMs ?? 0, onBug: (error) => bugs.push(error),
  })
  const clients: NfsTestClient[] = []
  t.teardown(async () => {
    for (const client of clients) await client.close()
    await server.close(100)
    if (bugs.length > 0) {
      // Assertions are over by now: make the run fail loudly instead.
      console.error(`NFS server bugs in "${t.name}":\n${bugs.map((bug) => bug.stack).join('\n')}`)
      process.exitCode = 1
    }
  })
  return {
    server, files, clock, bugs,
    async connect(minorVersion = 0) {
      const client = await NfsTestClient.connect(server.port, minorVersion)
      clients.push(client)
      return client
    },
  }
}

// Helpers for black-box NFS tests against the real `cairn server`: the bound NFS port from the
// server's log, libnfs-utils URLs and runs, and file writes through the protocol test client
// (src/nfs/testing) where libnfs 4.0 cannot go (it WRITEs at most ~3.9 KB per request).
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { NfsTestClient, ops, type Stateid } from '../../src/nfs/testing/nfs-client.ts'
import { status } from '../../src/nfs/v4/constants.ts'
import type { CairnServer } from './server.ts'

const run = promisify(execFile)

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** True when nfs-ls, nfs-cat and nfs-cp are on PATH (Debian libnfs-utils). */
export async function haveLibnfs(): Promise<boolean> {
  return run('sh', ['-c', 'command -v nfs-ls && command -v nfs-cat && command -v nfs-cp']).then(() => true, () => false)
}

/** The NFS port the server bound (it logs `{"listener":"nfs","url":"nfs://host:port"}`). */
export function nfsPortOf(server: CairnServer): number {
  const url = server.urls.nfs
  if (url === undefined) throw new Error(`the server logged no NFS listener:\n${server.stderr()}`)
  return Number(new URL(url).port)
}

/** libnfs URL of a path under the server's pseudo root ("/default/file"). */
export function libnfsUrl(port: number, path: string): string {
  return `nfs://127.0.0.1${path}?version=4&nfsport=${port}`
}

/** Run a libnfs-utils tool; stdout as bytes. Rejects on a non-zero exit. */
export async function libnfs(name: 'nfs-cp' | 'nfs-cat' | 'nfs-ls', ...args: string[]): Promise<Buffer> {
  const { stdout } = await run(name, args, { timeout: 60_000, encoding: 'buffer', maxBuffer: 256 << 20 })
  return stdout
}

/** An NFSv4.1 protocol client with a session, for writes larger than libnfs 4.0 can send. */
export class NfsWriter {
  readonly client: NfsTestClient
  readonly clientId: bigint
  #owners = 0

  private constructor(client: NfsTestClient, clientId: bigint) {
    this.client = client
    this.clientId = clientId
  }

  static async connect(port: number, name = 'native-test-writer'): Promise<NfsWriter> {
    const client = await NfsTestClient.connect(port, 1)
    const clientId = await client.establish(name)
    return new NfsWriter(client, clientId)
  }

  /** The handle of /<export>/<a>/<b>... (each component looked up). */
  async handle(path: string): Promise<Buffer> {
    const lookups = path.split('/').filter((part) => part !== '').map((part) => ops.lookup(part))
    const values = await this.client.ok([ops.putrootfh(), ...lookups, ops.getfh()])
    return values.at(-1) as Buffer
  }

  async mkdir(directory: Buffer, name: string): Promise<void> {
    await this.client.ok([ops.putfh(directory), ops.mkdir(name)])
  }

  async rename(directory: Buffer, from: string, to: string): Promise<void> {
    await this.client.ok([ops.putfh(directory), ops.savefh(), ops.putfh(directory), ops.rename(from, to)])
  }

  /**
   * Create (or truncate) `name` in `directory` and write `data` in pieces of pieceBytes:
   * 'unstable' writes then COMMIT then CLOSE, or FILE_SYNC writes then CLOSE. Resolves once the
   * server acknowledged the last step, i.e. once the data is durable.
   */
  async writeFile(directory: Buffer, name: string, data: Buffer, options: { stability?: 'unstable' | 'file-sync'; pieceBytes?: number } = {}): Promise<void> {
    const pieceBytes = options.pieceBytes ?? 1 << 20
    const owner = Buffer.from(`owner-${this.#owners++}`)
    const opened = await this.client.compound([
      ops.putfh(directory),
      ops.open({ clientId: this.clientId, owner, claim: { type: 'null', name }, create: { mode: 'unchecked', attributes: { size: 0, mode: 0o644 } } }),
      ops.getfh(),
    ])
    if (opened.status !== status.OK) throw new Error(`OPEN ${name} failed with NFS status ${opened.status}`)
    const stateid = (opened.results[2]?.value as { stateid: Stateid }).stateid
    const handle = opened.results[3]?.value as Buffer
    const stable = options.stability === 'unstable' ? 0 : 2
    for (let offset = 0; offset < data.length; offset += pieceBytes) {
      await this.client.ok([ops.putfh(handle), ops.write(stateid, offset, data.subarray(offset, offset + pieceBytes), stable)])
    }
    if (stable === 0) await this.client.ok([ops.putfh(handle), ops.commit()])
    await this.client.ok([ops.putfh(handle), ops.close(0, stateid)])
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}

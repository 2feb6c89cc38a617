// The NFS server on the real files engine (chunk store + LevelDB on a temp dir), driven by
// Debian's libnfs-utils (nfs-cp, nfs-ls, nfs-cat; NFSv4.0): an upload lands in the engine, a
// large file written through the engine streams back whole, both exports (/<name> and /<id>)
// work, and everything reads back after the engine restarts. Skips cleanly when the tools are
// missing (.ci/run installs libnfs-utils).
import t from 'tap'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startNfsServer, type NfsServer } from '../src/nfs/index.ts'
import { silentNfsLogger } from '../src/nfs/log.ts'
import { filesTestSetup, root } from '../src/files/testing.ts'

const run = promisify(execFile)
const haveTools = await run('sh', ['-c', 'command -v nfs-ls && command -v nfs-cat && command -v nfs-cp']).then(() => true, () => false)
if (!haveTools) t.plan(0, 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed')

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

t.test('libnfs tools against the files engine', async (t) => {
  const setup = await filesTestSetup({ metaBackend: 'level' })
  let server: NfsServer | undefined
  t.teardown(async () => {
    await server?.close(100)
    await setup.cleanup()
  })
  const serve = async (): Promise<NfsServer> => {
    await server?.close(100)
    server = await startNfsServer({ files: setup.files, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, graceMs: 0, onBug: (error) => t.fail(`server bug: ${error.stack}`) })
    return server
  }
  let nfs = await serve()
  const url = (path: string) => `nfs://127.0.0.1${path}?version=4&nfsport=${nfs.port}`
  const tool = (name: string, ...args: string[]) => run(name, args, { timeout: 30_000, encoding: 'buffer', maxBuffer: 64 << 20 })

  const local = join(setup.directory, 'small.txt')
  const small = Buffer.from('hello from libnfs to the files engine\n'.repeat(100))
  writeFileSync(local, small)
  await tool('nfs-cp', local, url('/default/small.txt'))
  const top = await setup.root()
  t.equal((await setup.files.lookup(root, top, 'small.txt')).attributes.sizeBytes, small.length, 'the upload is in the engine')

  const big = Buffer.alloc(6 * 1024 * 1024 + 123)
  for (let index = 0; index < big.length; index += 4096) big.writeUInt32BE(index, index)
  const created = await setup.files.create(root, top, 'big.bin', { type: 'regular', mode: 0o644, how: { mode: 'guarded' } })
  await setup.files.write(created.handle, 0, big, 'unstable')
  await setup.files.commit(created.handle)

  const listing = (await tool('nfs-ls', url('/default/'))).stdout.toString()
  t.match(listing, /small\.txt/)
  t.match(listing, /big\.bin/)
  t.equal(sha256((await tool('nfs-cat', url('/default/big.bin'))).stdout), sha256(big), 'nfs-cat streams 6 MiB through the engine')
  const id = (await setup.files.findFileSystem('default'))!.id
  t.equal((await tool('nfs-cat', url(`/${id}/small.txt`))).stdout.toString(), small.toString(), 'exported at /<id> too')

  await setup.reopen()
  nfs = await serve()
  const copy = join(setup.directory, 'big.copy')
  await tool('nfs-cp', url('/default/big.bin'), copy)
  t.equal(sha256(readFileSync(copy)), sha256(big), 'after a restart')
  t.equal((await tool('nfs-cat', url('/default/small.txt'))).stdout.toString(), small.toString())
  t.same((await setup.files.check('default')).problems, [])
})

// Debian's libnfs-utils (nfs-ls, nfs-cat, nfs-cp; libnfs 4.0, NFSv4.0) against the NFS server on
// an in-memory file service. libnfs 4.0 cannot WRITE more than ~3.9 KB per request (fixed
// upstream in 5.0), so uploads stay small; downloads are large and checksummed.
// Skips cleanly when the tools are missing (.ci/run installs libnfs-utils).
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startNfsServer } from '../src/nfs/index.ts'
import { silentNfsLogger } from '../src/nfs/log.ts'
import { MemoryFileService } from '../src/nfs/testing/memory-fs.ts'

const run = promisify(execFile)
const haveTools = await run('sh', ['-c', 'command -v nfs-ls && command -v nfs-cat && command -v nfs-cp']).then(() => true, () => false)
if (!haveTools) t.plan(0, 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed')

const root = { uid: 0, gid: 0, gids: [] }
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

async function setup(t: Test) {
  const files = new MemoryFileService({ fileSystems: [{ name: 'export' }] })
  const server = await startNfsServer({ files, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, graceMs: 0, onBug: (error) => t.fail(`server bug: ${error.stack}`) })
  const dir = mkdtempSync(join(tmpdir(), 'cairn-nfs-libnfs-'))
  t.teardown(async () => {
    await server.close(100)
    rmSync(dir, { recursive: true, force: true })
  })
  const url = (path: string) => `nfs://127.0.0.1/export${path}?version=4&nfsport=${server.port}`
  const tool = (name: string, ...args: string[]) => run(name, args, { timeout: 30_000, encoding: 'buffer', maxBuffer: 64 << 20 })
  const exportRoot = (await files.findFileSystem('export'))!.rootHandle
  return { files, server, dir, url, tool, exportRoot }
}

t.test('nfs-cp uploads, nfs-ls lists, nfs-cat reads back', async (t) => {
  const { files, dir, url, tool, exportRoot } = await setup(t)
  const local = join(dir, 'small.txt')
  const content = Buffer.from('hello from libnfs\n'.repeat(200)) // 3.6 KB: under libnfs 4.0's write limit
  writeFileSync(local, content)
  await tool('nfs-cp', local, url('/small.txt'))
  const listing = (await tool('nfs-ls', url('/'))).stdout.toString()
  t.match(listing, /small\.txt/)
  t.match(listing, new RegExp(`\\s${content.length}\\s`), 'nfs-ls shows the size')
  const back = (await tool('nfs-cat', url('/small.txt'))).stdout
  t.equal(sha256(back), sha256(content))
  const found = await files.lookup(root, exportRoot, 'small.txt')
  t.equal(found.attributes.sizeBytes, content.length, 'the file service holds the upload')
})

t.test('large files written on the server read back whole with nfs-cat and nfs-cp', async (t) => {
  const { files, dir, url, tool, exportRoot } = await setup(t)
  const data = Buffer.alloc(6 * 1024 * 1024 + 123)
  for (let index = 0; index < data.length; index += 4096) data.writeUInt32BE(index, index)
  const created = await files.create(root, exportRoot, 'big.bin', { type: 'regular', mode: 0o644, how: { mode: 'guarded' } })
  await files.write(created.handle, 0, data, 'file-sync')
  const catted = (await tool('nfs-cat', url('/big.bin'))).stdout
  t.equal(sha256(catted), sha256(data), 'nfs-cat streams 6 MiB')
  const local = join(dir, 'big.copy')
  await tool('nfs-cp', url('/big.bin'), local)
  t.equal(sha256(readFileSync(local)), sha256(data), 'nfs-cp downloads it')
})

t.test('nfs-ls -R walks directories and shows modes, owners and symlinks', async (t) => {
  const { files, url, tool, exportRoot } = await setup(t)
  const sub = await files.create(root, exportRoot, 'sub', { type: 'directory', mode: 0o750 })
  const inner = await files.create({ uid: 1000, gid: 100, gids: [] }, sub.handle, 'inner.txt', { type: 'regular', mode: 0o600, how: { mode: 'guarded' } }).catch(() => undefined)
  t.equal(inner, undefined, 'uid 1000 may not create in a 0750 root-owned directory')
  await files.create(root, sub.handle, 'inner.txt', { type: 'regular', mode: 0o600, how: { mode: 'guarded' } })
  await files.create(root, exportRoot, 'link', { type: 'symlink', mode: 0o777, target: 'sub/inner.txt' })
  const listing = (await tool('nfs-ls', '-R', url('/'))).stdout.toString()
  t.match(listing, /drwxr-x---.*sub/)
  t.match(listing, /-rw-------.*inner\.txt/)
  t.match(listing, /l.*link/)
})

t.test('a missing file is an error, not a hang', async (t) => {
  const { url, tool } = await setup(t)
  await t.rejects(tool('nfs-cat', url('/no-such-file')))
})

// Usage through the real `cairn server`: files written over NFS (two identical copies, a
// distinct file, a sparse one) show up in `cairn fs describe` as logical bytes per storage class
// and as bytes actually stored after dedup; NFS statfs (space_total/free/avail, files_total/free/
// avail, what `df` reads) agrees with it; after the lifecycle moves the files to Infrequent Access
// (a "day" of one second) the bytes change class, not size, and the data reads back from the cold
// tier byte-identical. Skips cleanly when libnfs-utils is missing (.ci/run installs it).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { ops } from '../src/nfs/testing/nfs-client.ts'
import { attr } from '../src/nfs/v4/constants.ts'
import { haveLibnfs, libnfs, libnfsUrl, NfsWriter, nfsPortOf, sha256 } from './helpers/nfs.ts'
import { runCli, startCairn } from './helpers/server.ts'

if (!(await haveLibnfs())) t.plan(0, 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed')

const env = { CAIRN_ROOT_ACCESS_KEY: 'NFSUSAGEACCESSKEY001', CAIRN_ROOT_SECRET_KEY: 'nfs-usage-secret-key' }
const MiB = 1024 * 1024

interface Usage {
  files: number
  directories: number
  symlinks: number
  standard: { logicalBytes: number; allocatedBytes: number }
  infrequentAccess: { logicalBytes: number; allocatedBytes: number }
  storedBytes: number
}

t.test('statfs and cairn fs describe: bytes per storage class and stored after dedup', async (t) => {
  // A day of 1 s; the background pass stays out of the way (an hour apart) so the test runs it.
  const server = await startCairn(t, { env, args: ['--nfs-grace-seconds', '0', '--lifecycle-day-seconds', '1', '--lifecycle-interval-seconds', '3600'] })
  const port = nfsPortOf(server)
  const cli = (...words: string[]) => runCli(words, { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
  const describe = async (): Promise<Usage> => {
    const result = await cli('fs', 'describe', 'stats', '--json')
    t.equal(result.code, 0, result.stderr)
    return (JSON.parse(result.stdout) as { usage: Usage }).usage
  }
  t.equal((await cli('fs', 'create', 'stats', '--ia-after-days', '1')).code, 0)

  const writer = await NfsWriter.connect(port, 'usage-writer')
  t.teardown(() => writer.close())
  const root = await writer.handle('/stats')
  const shared = randomBytes(3 * MiB)
  const distinct = randomBytes(1 * MiB)
  // Both copies UNSTABLE + COMMIT, as the Linux client writes back (cp, then close). FILE_SYNC
  // pieces would dedup less: each stable WRITE is chunked on its own, its end a forced cut.
  await writer.writeFile(root, 'a.bin', shared, { stability: 'unstable' })
  await writer.writeFile(root, 'b.bin', shared, { stability: 'unstable', pieceBytes: 256 * 1024 })
  await writer.writeFile(root, 'c.bin', distinct)
  await writer.mkdir(root, 'dir')
  // Sparse: 4 KiB at 64 MiB. Logical 64 MiB + 4 KiB, allocated 4 KiB.
  const sparse = await writer.client.ok([ops.putfh(root), ops.open({ clientId: writer.clientId, owner: Buffer.from('sparse'), claim: { type: 'null', name: 'sparse.bin' }, create: { mode: 'unchecked' } }), ops.getfh()])
  const sparseStateid = (sparse[1] as { stateid: { seqid: number; other: Buffer } }).stateid
  const sparseHandle = sparse[2] as Buffer
  await writer.client.ok([ops.putfh(sparseHandle), ops.write(sparseStateid, 64 * MiB, Buffer.alloc(4096, 7), 2)])
  await writer.client.ok([ops.putfh(sparseHandle), ops.close(0, sparseStateid)])

  const usage = await describe()
  const logical = 2 * shared.length + distinct.length + 64 * MiB + 4096
  const allocated = 2 * shared.length + distinct.length + 4096
  t.match(usage, { files: 4, directories: 2, symlinks: 0, standard: { logicalBytes: logical, allocatedBytes: allocated }, infrequentAccess: { logicalBytes: 0, allocatedBytes: 0 } },
    'logical bytes count the hole, allocated bytes do not')
  const unique = shared.length + distinct.length + 4096
  t.ok(usage.storedBytes >= unique * 0.99 && usage.storedBytes <= unique * 1.05, `stored after dedup: ${usage.storedBytes} bytes for ${unique} distinct (random, incompressible) bytes; ${allocated} allocated`)

  // statfs as NFS clients (df) see it, from the export's root.
  const statfsBits = [attr.SPACE_TOTAL, attr.SPACE_FREE, attr.SPACE_AVAIL, attr.FILES_TOTAL, attr.FILES_FREE, attr.FILES_AVAIL]
  const statfs = async () => (await writer.client.ok([ops.putfh(root), ops.getattr(statfsBits)]))[1] as Record<string, bigint>
  const before = await statfs()
  t.equal(before.spaceTotal! - before.spaceFree!, BigInt(allocated), 'space_total - space_free: the allocated bytes (what df shows as used)')
  t.ok(before.spaceAvail! <= before.spaceFree! && before.spaceFree! > 0n, 'space_avail <= space_free, and some space is free')
  t.equal(before.filesTotal! - before.filesFree!, 6n, 'files_total - files_free: inodes in use (4 files, 2 directories)')
  t.equal(before.filesAvail, before.filesFree)

  // A day later (1 s) the lifecycle pass moves every file to Infrequent Access.
  await new Promise((resolve) => setTimeout(resolve, 2_500))
  const pass = await cli('fs', 'lifecycle', 'stats', '--json')
  t.equal(pass.code, 0, pass.stderr)
  t.match(JSON.parse(pass.stdout), { toInfrequentAccess: 4 }, 'the pass moved the four idle files')
  const cold = await describe()
  t.match(cold, { standard: { logicalBytes: 0, allocatedBytes: 0 }, infrequentAccess: { logicalBytes: logical, allocatedBytes: allocated } }, 'the bytes changed class, not size')
  t.equal(cold.storedBytes, usage.storedBytes, 'stored bytes do not change with the class')
  const after = await statfs()
  t.equal(after.spaceTotal! - after.spaceFree!, BigInt(allocated), 'statfs used bytes do not change with the class')
  t.equal(sha256(await libnfs('nfs-cat', libnfsUrl(port, '/stats/b.bin'))), sha256(shared), 'an Infrequent Access file reads back byte-identical (cold tier)')

  const text = await cli('fs', 'describe', 'stats')
  t.match(text.stdout, /usage\.standard\.logicalBytes\s+0 B/)
  t.match(text.stdout, /usage\.infrequentAccess\.logicalBytes\s+71 MiB \(74452992\)/)
  const listed = await cli('fs', 'list')
  t.match(listed.stdout, /stats\s+fs-[0-9a-f]+\s+2\s+rw\s+4\s+0 B\s+71 MiB\s+4(\.\d+)? MiB/, '`cairn fs list` shows files, bytes per class and stored bytes')
})

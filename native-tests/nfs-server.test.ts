// `cairn server` serves NFS: the real process, driven by Debian's libnfs-utils (nfs-cp, nfs-cat,
// nfs-ls; NFSv4.0) and by the protocol test client (NFSv4.1, for writes larger than libnfs 4.0
// can send). Files written and committed read back byte-identical; `cairn fs create` makes a new
// export at once (by name and by id); after kill -9 in the middle of synchronous writes and a
// restart, every acknowledged file is intact, and fsck of the stopped data dir finds the
// namespace consistent (no dangling entries, no leaked inodes).
// Skips cleanly when libnfs-utils is missing (.ci/run installs it).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseServerConfig } from '../src/main/config.ts'
import { openEngine } from '../src/main/engine.ts'
import { createLogger } from '../src/main/logger.ts'
import { haveLibnfs, libnfs, libnfsUrl, NfsWriter, nfsPortOf, sha256 } from './helpers/nfs.ts'
import { runCli, startCairn, tempDir, type CairnServer } from './helpers/server.ts'

if (!(await haveLibnfs())) t.plan(0, 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed')

const env = { CAIRN_ROOT_ACCESS_KEY: 'NFSSERVERACCESSKEY01', CAIRN_ROOT_SECRET_KEY: 'nfs-server-secret-key' }
// No grace period: these clients have nothing to reclaim after the restart (state is not persisted).
const args = ['--nfs-grace-seconds', '0']

t.test('cairn server over NFS: libnfs round trips, a new file system, kill -9 and restart', async (t) => {
  const dir = tempDir(t, 'cairn-nfs-server-')
  const dataDir = join(dir, 'data')
  let server: CairnServer = await startCairn(t, { env, dataDir, args })
  let port = nfsPortOf(server)
  const url = (path: string) => libnfsUrl(port, path)
  const cli = (...words: string[]) => runCli([...words, '--json'], { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })

  const info = await cli('info')
  t.equal((JSON.parse(info.stdout) as { listeners: Record<string, string> }).listeners.nfs, server.urls.nfs, '`cairn info` lists the NFS listener')

  // libnfs writes a small file (its 4.0 client sends at most ~3.9 KB per WRITE) and reads it back.
  const small = randomBytes(3000)
  writeFileSync(join(dir, 'small.bin'), small)
  await libnfs('nfs-cp', join(dir, 'small.bin'), url('/default/small.bin'))
  t.equal(sha256(await libnfs('nfs-cat', url('/default/small.bin'))), sha256(small), 'nfs-cp then nfs-cat: byte-identical')

  // Larger files through the protocol client: unstable writes + COMMIT, and FILE_SYNC writes.
  const writer = await NfsWriter.connect(port)
  const defaultRoot = await writer.handle('/default')
  const big = randomBytes(5 * 1024 * 1024 + 17)
  await writer.writeFile(defaultRoot, 'big.bin', big, { stability: 'unstable' })
  await writer.mkdir(defaultRoot, 'docs')
  const docs = await writer.handle('/default/docs')
  const synced = randomBytes(200_000)
  await writer.writeFile(docs, 'draft.bin', synced, { stability: 'file-sync', pieceBytes: 64 * 1024 })
  await writer.rename(docs, 'draft.bin', 'final.bin')
  t.equal(sha256(await libnfs('nfs-cat', url('/default/big.bin'))), sha256(big), '5 MiB written with UNSTABLE + COMMIT reads back whole')
  await libnfs('nfs-cp', url('/default/docs/final.bin'), join(dir, 'final.copy'))
  t.equal(sha256(readFileSync(join(dir, 'final.copy'))), sha256(synced), 'FILE_SYNC writes, renamed, copied out with nfs-cp')

  // A new file system is exported at once, at /<name> and /<id>.
  const created = await cli('fs', 'create', 'team')
  t.equal(created.code, 0, created.stderr)
  const teamId = (JSON.parse(created.stdout) as { id: string }).id
  const notes = Buffer.from('team notes\n'.repeat(200))
  writeFileSync(join(dir, 'notes.txt'), notes)
  await libnfs('nfs-cp', join(dir, 'notes.txt'), url('/team/notes.txt'))
  t.equal((await libnfs('nfs-cat', url(`/${teamId}/notes.txt`))).toString(), notes.toString(), 'the new file system, read back by id')
  t.match((await libnfs('nfs-ls', url('/'))).toString(), /team/, 'the pseudo root lists the new export')
  t.notMatch((await libnfs('nfs-ls', url('/default/'))).toString(), /notes\.txt/, 'file systems are separate namespaces')

  // kill -9 while a writer is in the middle of FILE_SYNC writes: what was acknowledged survives.
  const acknowledged = new Map<string, string>()
  const teamRoot = await writer.handle('/team')
  let stopWriting = false
  const writing = (async () => {
    for (let index = 0; !stopWriting; index++) {
      const data = randomBytes(20_000 + ((index * 7919) % 300_000))
      try {
        await writer.writeFile(teamRoot, `w${index}.bin`, data, { stability: index % 2 === 0 ? 'file-sync' : 'unstable', pieceBytes: 128 * 1024 })
      } catch {
        return // the server is gone
      }
      acknowledged.set(`w${index}.bin`, sha256(data))
    }
  })()
  while (acknowledged.size < 5) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal((await server.stop('SIGKILL')).signal, 'SIGKILL')
  stopWriting = true
  await writing
  await writer.close().catch(() => {})

  server = await startCairn(t, { env, dataDir, args })
  port = nfsPortOf(server)
  t.equal(sha256(await libnfs('nfs-cat', url('/default/small.bin'))), sha256(small), 'after kill -9: the libnfs upload')
  t.equal(sha256(await libnfs('nfs-cat', url('/default/big.bin'))), sha256(big), 'after kill -9: the committed 5 MiB file')
  t.equal(sha256(await libnfs('nfs-cat', url('/default/docs/final.bin'))), sha256(synced), 'after kill -9: the renamed file')
  t.notMatch((await libnfs('nfs-ls', url('/default/docs/'))).toString(), /draft\.bin/, 'the rename is whole: no old name left')
  t.equal((await libnfs('nfs-cat', url('/team/notes.txt'))).toString(), notes.toString(), 'after kill -9: the second file system')
  let intact = 0
  for (const [name, digest] of acknowledged) {
    if (sha256(await libnfs('nfs-cat', url(`/team/${name}`))) === digest) intact++
    else t.fail(`${name} was acknowledged but reads back different bytes`)
  }
  t.equal(intact, acknowledged.size, `all ${acknowledged.size} acknowledged files of the killed writer are intact`)
  const listed = await cli('fs', 'list')
  t.same((JSON.parse(listed.stdout) as { fileSystems: Array<{ name: string }> }).fileSystems.map((fs) => fs.name).sort(), ['default', 'team'])
  t.equal((await server.stop('SIGTERM')).code, 0)

  // The stopped data dir, checked offline: the namespace is consistent after the crash.
  const { config } = parseServerConfig({ args: ['--data-dir', dataDir], env: {}, cwd: dir, readTextFile: () => '' })
  const engine = await openEngine(config, createLogger({ level: 'silent' }))
  try {
    for (const name of ['default', 'team']) {
      const report = await engine.files!.check(name)
      t.same(report.problems, [], `fsck ${name}: no problems (${report.inodes} inodes, ${report.orphans} orphans)`)
    }
  } finally {
    await engine.close()
  }
})

// restic (Debian's package) backing up into a Cairn bucket over HTTP: init, backup of a tree
// of a few hundred files plus a 50 MiB file (restic's packs go up as single PUTs and its index
// and snapshot files as small objects), snapshots, check --read-data (every pack read back and
// verified against its hash), restore compared byte for byte, a second backup after changes
// (only the changed data is added), forget --prune (packs deleted and rewritten) and a final
// check; then a second repository over HTTPS listed with ListObjects V1. restic talks to S3 through minio-go, path-style because the endpoint is an IP address.
import { randomBytes } from 'node:crypto'
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/server.ts'
import { accessKey, check, haveTool, run, secretKey, sha256File, startS3 } from './fixtures/s3-common.ts'

/** Relative path -> SHA-256 of every regular file under root. */
function digestTree(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else out.set(relative(root, path), sha256File(path))
    }
  }
  walk(root)
  return out
}

t.test('restic', { skip: haveTool('restic') ? false : 'restic is not installed (apt-get install restic)' }, async (t) => {
  const s3 = await startS3(t)
  const work = tempDir(t, 'cairn-restic-')
  const source = join(work, 'source')
  for (let dir = 0; dir < 10; dir += 1) {
    mkdirSync(join(source, `dir ${dir}`, 'nested'), { recursive: true })
    for (let file = 0; file < 30; file += 1) {
      const where = file % 2 === 0 ? `dir ${dir}` : join(`dir ${dir}`, 'nested')
      writeFileSync(join(source, where, `file-${file}.txt`), randomBytes(200 + file * 97))
    }
  }
  writeFileSync(join(source, 'big.bin'), randomBytes(50 * 1024 * 1024))

  const repository = `s3:${s3.httpUrl}/restic-repo`
  const env = {
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    RESTIC_PASSWORD: 'native-test-password',
    RESTIC_CACHE_DIR: join(work, 'cache'),
    HOME: work,
  }
  const restic = async (...args: string[]) => check(await run('restic', ['-r', repository, ...args], { env, timeoutMs: 120_000 }), `restic ${args.join(' ')}`)

  await restic('init')
  const first = JSON.parse((await restic('backup', '--json', source)).stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
  t.equal(first.message_type, 'summary')
  t.equal(first.files_new, 301, 'every file is new in the first backup')
  t.ok((first.data_added as number) > 50 * 1024 * 1024, 'the data went up')

  const snapshots = JSON.parse((await restic('snapshots', '--json')).stdout) as Array<{ id: string }>
  t.equal(snapshots.length, 1)
  await restic('check', '--read-data')

  const restored = join(work, 'restored')
  await restic('restore', 'latest', '--target', restored)
  t.same(digestTree(join(restored, source)), digestTree(source), 'the restore matches the source byte for byte')

  // Change a little: the second backup adds only that (the 50 MiB file is deduplicated).
  appendFileSync(join(source, 'dir 0', 'file-0.txt'), 'changed')
  rmSync(join(source, 'dir 1', 'file-2.txt'))
  writeFileSync(join(source, 'added.txt'), randomBytes(1000))
  const second = JSON.parse((await restic('backup', '--json', source)).stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
  t.equal(second.files_new, 1)
  t.equal(second.files_changed, 1)
  t.ok((second.data_added as number) < 1024 * 1024, `the second backup adds only the changes (${String(second.data_added)} bytes)`)

  const pruned = (await restic('forget', '--keep-last', '1', '--prune')).stdout
  t.match(pruned, /remove 1 snapshots|removed snapshot/i)
  t.equal((JSON.parse((await restic('snapshots', '--json')).stdout) as unknown[]).length, 1)
  await restic('check', '--read-data')

  const again = join(work, 'again')
  await restic('restore', 'latest', '--target', again)
  t.same(digestTree(join(again, source)), digestTree(source), 'after prune the latest snapshot restores to the changed tree')
  t.equal(readFileSync(join(again, source, 'dir 0', 'file-0.txt')).subarray(-7).toString(), 'changed')

  // Over HTTPS with the self-signed certificate: a second repository, ListObjects V1 this time.
  const secure = ['-r', `s3:${s3.httpsUrl}/restic-tls`, '--cacert', s3.caPath, '-o', 's3.list-objects-v1=true']
  const resticTls = async (...args: string[]) => check(await run('restic', [...secure, ...args], { env, timeoutMs: 60_000 }), `restic (https) ${args.join(' ')}`)
  await resticTls('init')
  await resticTls('backup', join(source, 'dir 3'))
  await resticTls('check', '--read-data')
  const restoredTls = join(work, 'restored-tls')
  await resticTls('restore', 'latest', '--target', restoredTls)
  t.same(digestTree(join(restoredTls, source, 'dir 3')), digestTree(join(source, 'dir 3')), 'HTTPS: the restore matches')
  t.notOk(s3.server.logLines().some((line) => line.level === 'error' || line.level === 'fatal'), 'nothing logged as error')
})

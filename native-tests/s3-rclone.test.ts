// rclone against the real server over HTTP and HTTPS: mkdir, copy (tricky names and a multipart
// upload), lsf, check (rclone's own hash comparison), copy back with SHA-256 comparison, sync
// (deletes what the source no longer has), purge.
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/server.ts'
import { accessKey, check, haveTool, makeScratch, run, secretKey, sha256File, startS3 } from './fixtures/s3-common.ts'

function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else out.push(relative(root, path))
    }
  }
  walk(root)
  return out.sort()
}

t.test('rclone', { skip: haveTool('rclone') ? false : 'rclone is not installed (apt-get install rclone)' }, async (t) => {
  const s3 = await startS3(t)
  const scratch = makeScratch(t)
  const home = tempDir(t, 'cairn-rclone-')
  for (const [transport, endpoint] of [['http', s3.httpUrl], ['https', s3.httpsUrl]] as const) {
    t.test(transport, async (t) => {
      const env = {
        HOME: home,
        RCLONE_CONFIG: join(home, 'none.conf'),
        RCLONE_CONFIG_CAIRN_TYPE: 's3',
        RCLONE_CONFIG_CAIRN_PROVIDER: 'Other',
        RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID: accessKey,
        RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY: secretKey,
        RCLONE_CONFIG_CAIRN_ENDPOINT: endpoint,
        RCLONE_CONFIG_CAIRN_REGION: 'us-east-1',
        RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE: 'true',
      }
      const flags = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--low-level-retries', '1', '--retries', '1', ...(transport === 'https' ? ['--ca-cert', s3.caPath] : [])]
      const rclone = async (...args: string[]) => check(await run('rclone', [...flags, ...args], { env, timeoutMs: 120_000 }), `rclone ${args.join(' ')}`)
      const bucket = `cairn:rclone-${transport}`
      await rclone('mkdir', bucket)
      await rclone('copy', join(scratch.dir, 'tree'), `${bucket}/up`)
      const listed = (await rclone('lsf', '-R', '--files-only', `${bucket}/up`)).stdout.trim().split('\n').sort()
      t.same(listed, [...scratch.files.keys()].sort(), 'lsf lists every file')
      await rclone('check', join(scratch.dir, 'tree'), `${bucket}/up`)

      const down = join(tempDir(t, 'cairn-rclone-down-'), 'down')
      await rclone('copy', `${bucket}/up`, down)
      t.same(listFiles(down), [...scratch.files.keys()].sort())
      for (const [name, digest] of scratch.files) t.equal(sha256File(join(down, name)), digest, `${name} round-trips`)

      // sync makes the destination match: a removed local file is deleted remotely.
      rmSync(join(down, 'plain.txt'))
      writeFileSync(join(down, 'new file+.txt'), 'new')
      await rclone('sync', down, `${bucket}/up`)
      const synced = (await rclone('lsf', '-R', '--files-only', `${bucket}/up`)).stdout
      t.notMatch(synced, /^plain\.txt$/m)
      t.match(synced, /^new file\+\.txt$/m)
      await rclone('purge', bucket)
      const buckets = (await rclone('lsd', 'cairn:')).stdout
      t.notMatch(buckets, `rclone-${transport}`)
    })
  }
})

// s3cmd against the real server over HTTP and HTTPS: mb, put --recursive (tricky names and a
// multipart upload), ls, info, get --recursive with SHA-256 comparison, sync, del, rb.
import { readdirSync, statSync, writeFileSync } from 'node:fs'
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

t.test('s3cmd', { skip: haveTool('s3cmd') ? false : 's3cmd is not installed (apt-get install s3cmd)' }, async (t) => {
  const s3 = await startS3(t)
  const scratch = makeScratch(t)
  const home = tempDir(t, 'cairn-s3cmd-')
  for (const [transport, endpoint] of [['http', s3.httpUrl], ['https', s3.httpsUrl]] as const) {
    t.test(transport, async (t) => {
      const hostPort = new URL(endpoint).host
      const configPath = join(home, `s3cfg-${transport}`)
      writeFileSync(configPath, [
        '[default]',
        `access_key = ${accessKey}`,
        `secret_key = ${secretKey}`,
        `host_base = ${hostPort}`,
        `host_bucket = ${hostPort}`,
        'bucket_location = us-east-1',
        `use_https = ${transport === 'https' ? 'True' : 'False'}`,
        `ca_certs_file = ${transport === 'https' ? s3.caPath : ''}`,
        'check_ssl_certificate = True',
        'signature_v2 = False',
        'multipart_chunk_size_mb = 5',
        'progress_meter = False',
        '',
      ].join('\n'))
      const s3cmd = async (...args: string[]) => check(await run('s3cmd', ['-c', configPath, ...args], { env: { HOME: home }, timeoutMs: 120_000 }), `s3cmd ${args.join(' ')}`)
      const bucket = `s3://s3cmd-${transport}`
      await s3cmd('mb', bucket)
      await s3cmd('put', '--recursive', `${join(scratch.dir, 'tree')}/`, `${bucket}/up/`)
      const listing = (await s3cmd('ls', '--recursive', `${bucket}/up/`)).stdout
      for (const name of scratch.files.keys()) t.match(listing, `${bucket}/up/${name}`, `ls shows ${name}`)
      const info = (await s3cmd('info', `${bucket}/up/${scratch.bigFile}`)).stdout
      t.match(info, /File size:\s+12582919/)

      const down = tempDir(t, 'cairn-s3cmd-down-')
      await s3cmd('get', '--recursive', `${bucket}/up/`, `${down}/`)
      t.same(listFiles(down), [...scratch.files.keys()].sort())
      for (const [name, digest] of scratch.files) t.equal(sha256File(join(down, name)), digest, `${name} round-trips`)

      writeFileSync(join(down, 'synced later.txt'), 'later')
      const synced = (await s3cmd('sync', `${down}/`, `${bucket}/up/`)).stdout
      t.match(synced, /synced later\.txt/)
      await s3cmd('del', '--recursive', '--force', `${bucket}/`)
      await s3cmd('rb', bucket)
    })
  }
})

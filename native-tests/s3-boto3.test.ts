// boto3 against the real server over HTTP and HTTPS, with Debian's python3-boto3 (/usr/bin/python3)
// and, when the first python3 on PATH has a different boto3 (e.g. a recent one that sends CRC32
// checksums and aws-chunked bodies by default), with that one too. The scenario is
// fixtures/s3-boto3.py: upload_file (multipart for the big file), put_object with metadata and
// tagging, upload_fileobj, paginated listing, copy, download_file, presigned GET, delete_objects.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { tempDir } from './helpers/server.ts'
import { accessKey, check, makeScratch, run, secretKey, sha256File, startS3 } from './fixtures/s3-common.ts'

const script = fileURLToPath(new URL('./fixtures/s3-boto3.py', import.meta.url))

function boto3Version(python: string): string | undefined {
  const result = spawnSync(python, ['-c', 'import boto3; print(boto3.__version__)'], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : undefined
}

const interpreters = new Map<string, string>()
const debian = boto3Version('/usr/bin/python3')
if (debian !== undefined) interpreters.set('/usr/bin/python3', debian)
const onPath = boto3Version('python3')
if (onPath !== undefined && onPath !== debian) interpreters.set('python3', onPath)

t.test('boto3', { skip: interpreters.size > 0 ? false : 'no python3 with boto3 (apt-get install python3-boto3)' }, async (t) => {
  const s3 = await startS3(t)
  const scratch = makeScratch(t)
  let index = 0
  for (const [python, version] of interpreters) {
    for (const [transport, endpoint] of [['http', s3.httpUrl], ['https', s3.httpsUrl]] as const) {
      t.test(`boto3 ${version} (${python}) over ${transport}`, async (t) => {
        const download = tempDir(t, 'cairn-boto3-')
        const output = check(
          await run(python, [script], {
            env: {
              CAIRN_S3_ENDPOINT: endpoint,
              CAIRN_S3_CA: transport === 'https' ? s3.caPath : '',
              CAIRN_S3_BUCKET: `boto3-${index++}-${transport}`,
              CAIRN_S3_SCRATCH: join(scratch.dir, 'tree'),
              CAIRN_S3_DOWNLOAD: download,
              CAIRN_S3_ACCESS_KEY: accessKey,
              CAIRN_S3_SECRET_KEY: secretKey,
            },
            timeoutMs: 120_000,
          }),
          `${python} s3-boto3.py`,
        )
        const result = JSON.parse(output.stdout) as {
          objects: Record<string, string>
          keys: string[]
          metadata: Record<string, string>
          tags: Array<{ Key: string; Value: string }>
          copied: string
          presigned: string
          deleteErrors: unknown[]
        }
        for (const [name, digest] of scratch.files) t.equal(result.objects[`up/${name}`], digest, `up/${name} round-trips`)
        const plain = scratch.files.get('plain.txt')
        t.equal(result.objects['put object/ü+%'], plain)
        t.ok(result.objects['fileobj stream'])
        t.same(result.keys, [...result.keys].sort(), 'listing is in key order')
        t.same(result.metadata, { color: 'red' })
        t.same(result.tags, [{ Key: 'a', Value: '1' }])
        t.equal(result.copied, plain)
        t.equal(result.presigned, plain)
        t.equal(sha256File(join(download, 'big.bin')), scratch.files.get('big.bin'), 'download_file (ranged, parallel GETs) round-trips')
        t.same(result.deleteErrors, [])
      })
    }
  }
})

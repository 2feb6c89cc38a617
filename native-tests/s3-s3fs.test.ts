// s3fs-fuse (Debian's s3fs) mounting a Cairn bucket over HTTP, path-style: write, read, append
// (s3fs re-uploads the whole object), rename (CopyObject + DeleteObject; UploadPartCopy for a
// large file), delete, a 64 MiB file (multipart upload) checked by SHA-256 after a remount,
// mkdir and a directory of 300 files (ListObjects with a delimiter, several pages), chmod and
// mtime (kept in x-amz-meta-mode / x-amz-meta-mtime through CopyObject with
// x-amz-metadata-directive: REPLACE) surviving a remount, 1,100 keys written by another client
// listed through V1 and V2 pages, a partial overwrite of the large file (UploadPartCopy ranges
// mixed with UploadPart), rmdir, and unmount; then over HTTPS, renames and chmod of keys with
// spaces, '+', '%' and unicode.
//
// Needs root (or a user allowed to mount FUSE), /dev/fuse, s3fs and fusermount3 or fusermount.
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, closeSync, existsSync, openSync, writeSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, utimesSync, chmodSync, writeFileSync, createReadStream } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { tempDir } from './helpers/server.ts'
import { accessKey, check, haveTool, run, secretKey, sha256, startS3, trickyNames } from './fixtures/s3-common.ts'

const fusermount = haveTool('fusermount3') ? 'fusermount3' : haveTool('fusermount') ? 'fusermount' : undefined
const skip = !haveTool('s3fs') ? 's3fs is not installed (apt-get install s3fs)'
  : fusermount === undefined ? 'fusermount3 is not installed (apt-get install fuse3)'
    : !existsSync('/dev/fuse') ? '/dev/fuse is missing'
      : process.getuid?.() !== 0 ? 's3fs mounts need root here'
        : false

function mounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === path)
}

async function sha256Stream(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

t.test('s3fs', { skip }, async (t) => {
  const s3 = await startS3(t)
  const work = tempDir(t, 'cairn-s3fs-')
  const bucket = 's3fs-bucket'
  const client = new S3Client({ endpoint: s3.httpUrl, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
  t.teardown(() => client.destroy())
  await client.send(new CreateBucketCommand({ Bucket: bucket }))

  const passwdFile = join(work, 'passwd-s3fs')
  writeFileSync(passwdFile, `${accessKey}:${secretKey}\n`, { mode: 0o600 })
  const mountDir = join(work, 'mnt')
  mkdirSync(mountDir)
  const unmount = async () => {
    for (let attempt = 0; mounted(mountDir); attempt += 1) {
      const result = await run(fusermount ?? 'fusermount3', ['-u', ...(attempt >= 20 ? ['-z'] : []), mountDir])
      if (result.code !== 0) await new Promise((resolve) => setTimeout(resolve, 100))
      if (attempt > 40) throw new Error(`cannot unmount ${mountDir}: ${result.stderr}`)
    }
  }
  t.teardown(unmount)
  const mount = async (extraOptions: string[], endpoint = s3.httpUrl) => {
    await check(await run('s3fs', [bucket, mountDir, '-o', [
      `url=${endpoint}`, 'use_path_request_style', `passwd_file=${passwdFile}`, 'endpoint=us-east-1',
      'multipart_size=8', `logfile=${join(work, 's3fs.log')}`, 'dbglevel=info', ...extraOptions,
    ].join(',')], { env: { HOME: work, CURL_CA_BUNDLE: s3.caPath } }), 's3fs mount')
    for (let waited = 0; !mounted(mountDir); waited += 1) {
      if (waited > 100) throw new Error('s3fs did not mount')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  // 1,100 objects written by another client (no directory objects): s3fs pages through them
  // with ListObjects V1 markers (first mount) and V2 continuation tokens (second mount).
  const pagedCount = 1100
  const pagedKeys = Array.from({ length: pagedCount }, (_, index) => `paged/object-${String(index).padStart(4, '0')}`)
  for (let start = 0; start < pagedKeys.length; start += 32) {
    await Promise.all(pagedKeys.slice(start, start + 32).map((key) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))))
  }

  await mount(['nomixupload', 'multipart_copy_size=5'])
  t.equal(readdirSync(join(mountDir, 'paged')).length, pagedCount, 'a directory of 1,100 keys lists completely (V1 markers)')

  // Write, read, append, rename, delete.
  const file = join(mountDir, 'hello.txt')
  writeFileSync(file, 'hello\n')
  t.equal(readFileSync(file, 'utf8'), 'hello\n')
  appendFileSync(file, 'more\n')
  t.equal(readFileSync(file, 'utf8'), 'hello\nmore\n', 'append')
  renameSync(file, join(mountDir, 'renamed.txt'))
  t.notOk(existsSync(file))
  t.equal(readFileSync(join(mountDir, 'renamed.txt'), 'utf8'), 'hello\nmore\n', 'rename keeps the content')
  unlinkSync(join(mountDir, 'renamed.txt'))
  t.notOk(existsSync(join(mountDir, 'renamed.txt')), 'delete')

  // 64 MiB: a multipart upload of 8 MiB parts; renamed, which copies it with 13 ranged
  // UploadPartCopy requests (multipart_copy_size=5).
  const big = randomBytes(64 * 1024 * 1024)
  const bigDigest = sha256(big)
  writeFileSync(join(mountDir, 'big.bin'), big)
  renameSync(join(mountDir, 'big.bin'), join(mountDir, 'big-renamed.bin'))
  const bigHead = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big-renamed.bin' }))
  t.equal(bigHead.ContentLength, big.length)
  t.match(bigHead.ETag, /^"[0-9a-f]{32}-\d+"$/, 'stored as a multipart object')

  // A directory of 300 files: s3fs lists it with delimiter '/'.
  mkdirSync(join(mountDir, 'many'))
  for (let index = 0; index < 300; index += 1) writeFileSync(join(mountDir, 'many', `file-${String(index).padStart(3, '0')}.txt`), `${index}\n`)
  mkdirSync(join(mountDir, 'many', 'sub'))
  writeFileSync(join(mountDir, 'many', 'sub', 'inner.txt'), 'inner\n')

  // chmod and mtime are metadata: s3fs rewrites them with CopyObject onto itself (REPLACE).
  const meta = join(mountDir, 'meta.txt')
  writeFileSync(meta, 'meta\n')
  chmodSync(meta, 0o640)
  const mtime = new Date('2020-01-02T03:04:05Z')
  utimesSync(meta, mtime, mtime)
  const metaHead = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta.txt' }))
  t.equal(Number(metaHead.Metadata?.mode) & 0o7777, 0o640, 'x-amz-meta-mode stored')
  t.equal(Number(metaHead.Metadata?.mtime), mtime.getTime() / 1000, 'x-amz-meta-mtime stored')

  // Remount: everything below comes from the server, not s3fs's caches.
  await unmount()
  await mount(['listobjectsv2'])
  t.same(readdirSync(mountDir).sort(), ['big-renamed.bin', 'many', 'meta.txt', 'paged'])
  t.equal(readdirSync(join(mountDir, 'paged')).length, pagedCount, 'a directory of 1,100 keys lists completely (V2 tokens)')
  t.equal(readFileSync(join(mountDir, 'paged', 'object-1099'), 'utf8'), 'paged/object-1099')
  t.equal(await sha256Stream(join(mountDir, 'big-renamed.bin')), bigDigest, 'the 64 MiB file reads back identical')

  // Overwrite 1 MiB in the middle of the 64 MiB file: without nomixupload s3fs uploads only the
  // changed part and copies the rest from the old object (UploadPartCopy with ranges).
  const patch = randomBytes(1024 * 1024)
  patch.copy(big, 20 * 1024 * 1024)
  const handle = openSync(join(mountDir, 'big-renamed.bin'), 'r+')
  try {
    writeSync(handle, patch, 0, patch.length, 20 * 1024 * 1024)
  } finally {
    closeSync(handle)
  }
  await unmount()
  await mount(['listobjectsv2'])
  t.equal(await sha256Stream(join(mountDir, 'big-renamed.bin')), sha256(big), 'a partial overwrite (mixed copy and upload parts) reads back identical')
  const listed = readdirSync(join(mountDir, 'many')).sort()
  t.equal(listed.length, 301, '300 files and a subdirectory')
  t.equal(listed[0], 'file-000.txt')
  t.equal(listed.at(-1), 'sub')
  t.ok(statSync(join(mountDir, 'many', 'sub')).isDirectory())
  t.equal(readFileSync(join(mountDir, 'many', 'file-123.txt'), 'utf8'), '123\n')
  t.equal(readFileSync(join(mountDir, 'many', 'sub', 'inner.txt'), 'utf8'), 'inner\n')
  const metaStat = statSync(meta)
  t.equal(metaStat.mode & 0o7777, 0o640, 'mode survives the remount')
  t.equal(metaStat.mtimeMs, mtime.getTime(), 'mtime survives the remount')
  t.equal(readFileSync(meta, 'utf8'), 'meta\n', 'the metadata copy kept the content')

  // Clean up through the mount: rm of every file, rmdir of the directories.
  for (const name of readdirSync(join(mountDir, 'many'))) {
    if (name !== 'sub') unlinkSync(join(mountDir, 'many', name))
  }
  unlinkSync(join(mountDir, 'many', 'sub', 'inner.txt'))
  rmdirSync(join(mountDir, 'many', 'sub'))
  rmdirSync(join(mountDir, 'many'))
  unlinkSync(meta)
  unlinkSync(join(mountDir, 'big-renamed.bin'))
  for (const name of readdirSync(join(mountDir, 'paged'))) unlinkSync(join(mountDir, 'paged', name))
  t.same(readdirSync(mountDir), [])
  await unmount()

  // Over HTTPS (the self-signed certificate as curl's CA bundle): keys that trip up signing and
  // x-amz-copy-source encoding, renamed (CopyObject) and chmod-ed (CopyObject onto itself).
  await mount([], s3.httpsUrl)
  for (const name of trickyNames.filter((name) => !name.includes('/'))) {
    writeFileSync(join(mountDir, name), name)
    renameSync(join(mountDir, name), join(mountDir, `renamed ${name}`))
    chmodSync(join(mountDir, `renamed ${name}`), 0o600)
  }
  await unmount()
  await mount([], s3.httpsUrl)
  for (const name of trickyNames.filter((name) => !name.includes('/'))) {
    t.equal(readFileSync(join(mountDir, `renamed ${name}`), 'utf8'), name, `HTTPS: renamed ${name}`)
    t.equal(statSync(join(mountDir, `renamed ${name}`)).mode & 0o7777, 0o600)
    t.notOk(existsSync(join(mountDir, name)))
  }
  await unmount()
  t.notOk(mounted(mountDir), 'unmounted')
  const refused = readFileSync(join(work, 's3fs.log'), 'utf8').split('\n').filter((line) => /HTTP response code (?!404)[45]\d\d/.test(line))
  t.same(refused, [], 's3fs saw no error response other than 404 (probes for missing keys)')
  t.notOk(s3.server.logLines().some((line) => line.level === 'error' || line.level === 'fatal'), 'nothing logged as error')
})

// A 200 from PutObject means the object is durable: writers PUT objects of mixed sizes (inline,
// single-chunk, multi-chunk) as fast as they can, the server is killed with SIGKILL in the
// middle, restarted on the same data dir, and every acknowledged object must read back with
// exactly the bytes that were sent. Objects whose PUT was in flight at the kill may be absent,
// but never partial or mixed.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { tempDir } from './helpers/server.ts'
import { accessKey, secretKey, sha256, startS3 } from './fixtures/s3-common.ts'

const sizes = [100, 3000, 70_000, 600_000, 3_000_000]

function clientFor(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
}

t.test('PUTs acknowledged with 200 survive SIGKILL and restart', async (t) => {
  const dataDir = `${tempDir(t, 'cairn-s3-kill-')}/data`
  const acknowledged = new Map<string, string>()
  const attempted = new Map<string, string>()
  for (let round = 0; round < 2; round++) {
    const s3 = await startS3(t, { dataDir })
    const client = clientFor(s3.httpUrl)
    if (round === 0) await client.send(new CreateBucketCommand({ Bucket: 'durable' }))
    let stop = false
    const writer = async (writerIndex: number) => {
      for (let sequence = 0; !stop; sequence++) {
        const key = `round${round}/writer${writerIndex}/${sequence}`
        const data = randomBytes(sizes[(writerIndex + sequence) % sizes.length] ?? 100)
        attempted.set(key, sha256(data))
        try {
          await client.send(new PutObjectCommand({ Bucket: 'durable', Key: key, Body: data }))
          acknowledged.set(key, sha256(data))
        } catch {
          return // the server is gone
        }
      }
    }
    const writers = Array.from({ length: 8 }, (_, index) => writer(index))
    await new Promise((resolve) => setTimeout(resolve, 1500 + round * 500))
    const exit = await s3.server.stop('SIGKILL')
    stop = true
    t.equal(exit.signal, 'SIGKILL')
    await Promise.all(writers)
    client.destroy()
  }
  t.ok(acknowledged.size > 10, `${acknowledged.size} PUTs were acknowledged before the kills`)

  const s3 = await startS3(t, { dataDir })
  const client = clientFor(s3.httpUrl)
  t.teardown(() => client.destroy())
  let missing = 0
  let inFlightPresent = 0
  for (const [key, digest] of attempted) {
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: 'durable', Key: key }))
      const bytes = await response.Body!.transformToByteArray()
      if (sha256(bytes) !== digest) t.fail(`${key} reads back different bytes than were sent`)
      if (!acknowledged.has(key)) inFlightPresent++
    } catch (error) {
      if (!(error instanceof S3ServiceException) || error.name !== 'NoSuchKey') throw error
      if (acknowledged.has(key)) missing++
    }
  }
  t.equal(missing, 0, 'no acknowledged object is missing')
  t.comment(`${acknowledged.size} acknowledged, ${attempted.size - acknowledged.size} in flight at a kill (${inFlightPresent} of those committed)`)
})

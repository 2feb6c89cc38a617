// SIGTERM while an upload is in flight: the server stops accepting, the upload that already
// started finishes with 200, the process exits 0, and after a restart the object reads back
// with the bytes that were sent.
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import t from 'tap'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { tempDir } from './helpers/server.ts'
import { accessKey, secretKey, sha256, startS3 } from './fixtures/s3-common.ts'


function clientFor(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } })
}

/** PUT to a presigned URL, sending the body in pieces with pauses; calls onStarted once the body is flowing. */
function slowPut(url: string, data: Buffer, pieces: number, pauseMs: number, onStarted: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const put = request(target, { method: 'PUT', headers: { 'content-length': String(data.length) } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    put.on('error', reject)
    const size = Math.ceil(data.length / pieces)
    let index = 0
    const next = () => {
      if (index * size >= data.length) {
        put.end()
        return
      }
      put.write(data.subarray(index * size, (index + 1) * size))
      // By the third piece the server has long accepted the connection and is reading the body.
      if (index === 2) onStarted()
      index++
      setTimeout(next, pauseMs)
    }
    next()
  })
}

t.test('SIGTERM lets an in-flight upload finish', async (t) => {
  const dataDir = `${tempDir(t, 'cairn-s3-term-')}/data`
  const s3 = await startS3(t, { dataDir })
  const client = clientFor(s3.httpUrl)
  await client.send(new CreateBucketCommand({ Bucket: 'shutdown' }))
  const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'shutdown', Key: 'in flight' }), { expiresIn: 600 })
  client.destroy()
  const data = randomBytes(8 * 1024 * 1024)
  let exited: Promise<unknown> | undefined
  const status = await slowPut(url, data, 16, 100, () => {
    exited = s3.server.stop('SIGTERM', 20_000)
  })
  t.equal(status, 200, 'the upload in flight at SIGTERM completes')
  t.same(await exited, { code: 0, signal: null }, 'the server exits 0 once it finished')

  const again = await startS3(t, { dataDir })
  const reader = clientFor(again.httpUrl)
  t.teardown(() => reader.destroy())
  const got = await reader.send(new GetObjectCommand({ Bucket: 'shutdown', Key: 'in flight' }))
  t.equal(sha256(await got.Body!.transformToByteArray()), sha256(data))
})

// Null S3 server (helper of the s3 benchmark): verifies SigV4, stores nothing; the ceiling of the HTTP stack
//
// The "null" server of bench/s3.ts: the same fastify setup as Cairn's S3 app (one route,
// rewriteUrl keeping the raw URL for signing, every method bodyless so handlers read the raw
// stream, request logging off) and the same SigV4 verifier (src/s3/auth), but no objects layer:
// - PUT drains the body and answers 200 with a fixed ETag (a bucket PUT is just 200);
// - GET and HEAD answer 200 with as many zero bytes as the key's first all-digit path segment
//   says (`/bucket/small/4096/17` -> 4,096 bytes; no such segment -> 0 bytes);
// - anything that fails SigV4 is 403 with the verifier's code.
// What Cairn spends beyond this server is the cost of storing: hashing, chunking, fsync, metadata.
//
// Run: node bench/null-s3.ts --address 127.0.0.1:0 --access-key KEY --secret-key SECRET
// Prints one JSON line {"listener":"s3","url":...} on stdout once listening; SIGTERM stops it.
// Never: stores or buffers a body; accepts a request whose signature does not verify.
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { systemClock } from '../src/lib/index.ts'
import { createSigV4Verifier, S3AuthError, type RequestHeaders } from '../src/s3/auth/index.ts'

const zeroBlock = Buffer.alloc(1024 * 1024)

/** Bytes a GET answers for a raw path: its first all-digit segment after the bucket, else 0. */
export function nullObjectBytes(rawPath: string): number {
  const segments = rawPath.split('/').slice(2)
  const digits = segments.find((segment) => /^\d{1,15}$/.test(segment))
  return digits === undefined ? 0 : Number(digits)
}

async function* zeros(sizeBytes: number): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < sizeBytes; sent += zeroBlock.length) yield zeroBlock.subarray(0, Math.min(zeroBlock.length, sizeBytes - sent))
}

function distinctHeaders(raw: IncomingMessage): RequestHeaders {
  return raw.headersDistinct
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string', default: '127.0.0.1:0' },
      'access-key': { type: 'string' },
      'secret-key': { type: 'string' },
    },
  })
  const accessKey = values['access-key']
  const secretKey = values['secret-key']
  if (accessKey === undefined || secretKey === undefined) throw new TypeError('--access-key and --secret-key are required')
  const [host, portText] = values.address.split(/:(?=\d+$)/)
  const verifier = createSigV4Verifier({ clock: systemClock, lookupSecret: async (id) => (id === accessKey ? secretKey : undefined) })

  const app = Fastify({ logger: false, rewriteUrl: () => '/', requestTimeout: 0, forceCloseConnections: 'idle' })
  for (const method of ['PUT', 'POST', 'DELETE']) app.addHttpMethod(method, { hasBody: false, overrideExisting: true })
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
    url: '/',
    exposeHeadRoute: false,
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const raw = request.raw
      const target = (raw as IncomingMessage & { originalUrl?: string }).originalUrl ?? raw.url ?? '/'
      const queryAt = target.indexOf('?')
      const rawPath = queryAt < 0 ? target : target.slice(0, queryAt)
      const rawQuery = queryAt < 0 ? '' : target.slice(queryAt + 1)
      try {
        await verifier.verify({ method: raw.method ?? 'GET', rawPath, rawQuery, headers: distinctHeaders(raw) })
      } catch (error) {
        if (!(error instanceof S3AuthError)) throw error
        raw.resume()
        return reply.code(error.status).header('content-type', 'application/xml').send(`<Error><Code>${error.code}</Code></Error>`)
      }
      if (raw.method === 'PUT' || raw.method === 'POST') {
        for await (const piece of raw) void piece
        return reply.code(200).header('etag', '"00000000000000000000000000000000"').send()
      }
      if (raw.method === 'DELETE') return reply.code(204).send()
      const sizeBytes = nullObjectBytes(rawPath)
      reply.code(200).header('content-length', String(sizeBytes)).header('etag', '"00000000000000000000000000000000"')
      if (raw.method === 'HEAD') return reply.send()
      return reply.send(Readable.from(zeros(sizeBytes), { objectMode: false }))
    },
  })
  const url = await app.listen({ host: host ?? '127.0.0.1', port: Number(portText ?? 0) })
  console.log(JSON.stringify({ listener: 's3', url }))
  const stop = (): void => {
    void app.close().finally(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

if (import.meta.main) await main()

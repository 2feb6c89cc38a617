// Raw HTTP requests to a test S3 server, signed with the AWS SDK's own signer
// (@smithy/signature-v4 via src/s3/auth/fixtures), for the cases a client library would never
// send: wrong payload hashes, bad checksums, anonymous requests, Expect: 100-continue.
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { sdkSign } from '../auth/fixtures/sdk-signer.ts'
import { testAccessKey, testSecretKey } from './harness.ts'

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** Whether the server sent 100 Continue before its answer. */
  continued: boolean
}

export interface RawRequestOptions {
  method: string
  /** Encoded path as the client sends it, e.g. '/bucket/a%20b'. */
  path: string
  query?: Record<string, string>
  headers?: Record<string, string>
  body?: Buffer | string
  /** What x-amz-content-sha256 claims; default the real SHA-256 of the body. */
  payloadHash?: string
  /** Send unsigned (anonymous). */
  anonymous?: boolean
  /** Send the body only after 100 Continue (Expect: 100-continue). */
  expectContinue?: boolean
  host?: string
  /** Build the body from the signed headers (aws-chunked bodies chain from the request signature). */
  encodeBody?: (signedHeaders: Record<string, string>) => Buffer
  accessKeyId?: string
  secretKey?: string
}

export async function rawRequest(url: string, options: RawRequestOptions): Promise<RawResponse> {
  const target = new URL(url)
  let body: Buffer = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body)
  const host = options.host ?? target.host
  const extraHeaders: Record<string, string> = { ...options.headers }
  if (options.expectContinue === true) extraHeaders.expect = '100-continue'
  let path = options.path
  let headers: Record<string, string> = { host, ...extraHeaders }
  if (options.anonymous !== true) {
    const signed = await sdkSign({
      accessKeyId: options.accessKeyId ?? testAccessKey,
      secretAccessKey: options.secretKey ?? testSecretKey,
      signingDate: new Date(),
      method: options.method,
      path: options.path,
      ...(options.query === undefined ? {} : { query: options.query }),
      headers: extraHeaders,
      payloadHash: options.payloadHash ?? createHash('sha256').update(body).digest('hex'),
      host,
    })
    headers = signed.headers as Record<string, string>
    if (options.encodeBody !== undefined) body = options.encodeBody(headers)
    path = signed.rawPath + (signed.rawQuery === '' ? '' : `?${signed.rawQuery}`)
  } else if (options.query !== undefined) {
    path += `?${new URLSearchParams(options.query).toString()}`
  }
  if (body.length > 0 || options.method === 'PUT' || options.method === 'POST') headers['content-length'] = String(body.length)
  return new Promise((resolve, reject) => {
    let continued = false
    const request = httpRequest({ host: target.hostname, port: target.port, method: options.method, path, headers, agent: false }, (response) => {
      const pieces: Buffer[] = []
      response.on('data', (piece: Buffer) => pieces.push(piece))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(pieces).toString('utf8'), continued }))
      response.on('error', reject)
    })
    request.on('error', reject)
    if (options.expectContinue === true) {
      request.on('continue', () => {
        continued = true
        request.end(body)
      })
    } else {
      request.end(body)
    }
  })
}

/** The <Code> of an S3 error document. */
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
}

// The CLI's client for a running server's admin API (node:http, no request timeout by default:
// a scrub of a large store may take a long time and must not be cut off by the client).
//
// Contract: adminRequest resolves with {status, body} for any HTTP answer and throws
// ClientError with a message meant for a person when there is no answer (no server, wrong
// host, timeout) or the answer is not JSON.
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { basicAuthorization, type AdminCredentials, type JsonValue } from '../admin/index.ts'
import { UsageError } from './usage-error.ts'

export const defaultAdminUrl = 'http://127.0.0.1:9001'
const responseBytesMax = 16 * 1024 * 1024

export class ClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ClientError'
  }
}

export interface AdminRequest {
  endpoint: URL
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  /** Sent as JSON (volume and snapshot commands). */
  body?: JsonValue
  credentials?: AdminCredentials
  /** Give up when the server sends nothing for this long (undefined: wait as long as it takes). */
  idleTimeoutMs?: number
}

export interface AdminResponse {
  status: number
  body: JsonValue
}

/** Parse --endpoint / CAIRN_ADMIN_URL. */
export function parseEndpoint(text: string, origin: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`${origin}: "${text}" is not a URL (e.g. ${defaultAdminUrl})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${origin}: "${text}" must start with http:// or https://`)
  return url
}

export function adminRequest(options: AdminRequest): Promise<AdminResponse> {
  const url = new URL(options.path.replace(/^\//, ''), options.endpoint.href.endsWith('/') ? options.endpoint : `${options.endpoint.href}/`)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.credentials !== undefined) headers.authorization = basicAuthorization(options.credentials)
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8')
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(payload.length)
  }
  return new Promise((resolve, reject) => {
    const request = send(url, { method: options.method, headers }, (response) => {
      readJson(response, url).then((body) => resolve({ status: response.statusCode ?? 0, body }), reject)
    })
    if (options.idleTimeoutMs !== undefined) {
      request.setTimeout(options.idleTimeoutMs, () => {
        request.destroy(new ClientError(`no answer from ${options.endpoint.origin} within ${options.idleTimeoutMs! / 1000} s`))
      })
    }
    request.on('error', (error) => reject(describeFailure(error, options.endpoint)))
    request.end(payload)
  })
}

async function readJson(response: IncomingMessage, url: URL): Promise<JsonValue> {
  const parts: Buffer[] = []
  let sizeBytes = 0
  // Admin responses are small JSON documents; the cap keeps a wrong endpoint from filling memory.
  for await (const part of response) {
    sizeBytes += (part as Buffer).length
    if (sizeBytes > responseBytesMax) throw new ClientError(`the answer from ${url.origin} is larger than ${responseBytesMax} bytes; is this a Cairn admin endpoint?`)
    parts.push(part as Buffer)
  }
  const text = Buffer.concat(parts).toString('utf8')
  if (text === '' && response.statusCode === 204) return null
  try {
    return JSON.parse(text) as JsonValue
  } catch (error) {
    throw new ClientError(`${url.origin} answered ${response.statusCode} with something that is not JSON; is this a Cairn admin endpoint?`, { cause: error })
  }
}

function describeFailure(error: unknown, endpoint: URL): Error {
  if (error instanceof ClientError) return error
  const code = (error as { code?: unknown }).code
  const where = endpoint.origin
  switch (code) {
    case 'ECONNREFUSED':
      return new ClientError(`no Cairn server at ${where}; start one with \`cairn server\` (or point --endpoint / CAIRN_ADMIN_URL at it)`, { cause: error })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ClientError(`cannot resolve the host of ${where}`, { cause: error })
    case 'ECONNRESET':
      return new ClientError(`the server at ${where} closed the connection (is it shutting down?)`, { cause: error })
    default:
      return new ClientError(`cannot reach ${where}: ${(error as Error).message}`, { cause: error })
  }
}

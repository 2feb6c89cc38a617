// What a handler gets (S3Context) and what it returns (S3Response). Handlers never see fastify:
// app.ts builds the context from the HTTP request and writes the response, so handlers are
// plain async functions over the objects layer, testable without a socket.
import type { Clock } from '../lib/index.ts'
import type { ObjectsService, Principal } from '../objects/index.ts'
import { headerValue, type RequestHeaders, type SigV4Verified } from './auth/index.ts'
import { xmlDocument, type XmlChild } from './xml.ts'

export interface S3Settings {
  /** Region reported for buckets created without a LocationConstraint. */
  readonly defaultRegion: string
  /** When set, the only region accepted (credential scope and LocationConstraint). */
  readonly region?: string
  readonly clock: Clock
}

export interface S3Context {
  readonly requestId: string
  readonly method: string
  /** 'http://host:port' or 'https://...' as the client addressed us (for Location values). */
  readonly origin: string
  /** Lowercase names; repeated headers as arrays. */
  readonly headers: RequestHeaders
  readonly principal: Principal
  readonly verified: SigV4Verified
  readonly objects: ObjectsService
  readonly settings: S3Settings
  /** Fires when the client goes away or the server gives up on the request at shutdown. */
  readonly signal: AbortSignal
  /** The request body as received; read it only through body.ts. */
  readonly source: AsyncIterable<Uint8Array>
  /** Tell a client that sent `Expect: 100-continue` to send the body (idempotent). */
  readonly sendContinue: () => void
}

export interface S3Response {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** XML text, or object bytes streamed with backpressure; absent for empty answers and HEAD. */
  readonly body?: string | AsyncIterable<Uint8Array>
}

/** One request header as a string (occurrences joined with ','), or undefined. */
export function header(context: Pick<S3Context, 'headers'>, name: string): string | undefined {
  return headerValue(context.headers, name)
}

export function xmlResponse(root: string, children: readonly XmlChild[], headers: Record<string, string> = {}, status = 200): S3Response {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: xmlDocument(root, children) }
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): S3Response {
  return { status, headers }
}

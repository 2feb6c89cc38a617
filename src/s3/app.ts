// The S3 API as a fastify app. fastify does only HTTP here: every request goes to one route
// (rewriteUrl keeps the raw URL for signing and addressing), where it is authenticated (SigV4,
// src/s3/auth), addressed and routed into a typed Endpoint (router.ts), handled (dispatch.ts)
// and answered; every failure becomes an S3 XML error (errors.ts). Every response carries
// x-amz-request-id and x-amz-id-2.
//
// Bodies are never buffered by fastify: every method is registered as bodyless, so fastify
// never parses a body and the handlers read the raw request stream (body.ts). This replaces a
// pass-through content-type parser because fastify validates Content-Type before choosing a
// parser and answers 415 to values S3 accepts (any string is a valid object Content-Type).
// `Expect: 100-continue` is answered only once a handler starts reading the body, i.e. after
// authentication and routing succeeded; an error sent before that closes the connection.
// A bug (AssertionError, TypeError, ...) is answered with InternalError and reported to onBug.
import { AssertionError } from 'node:assert'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { systemRandom, type Clock, type Random } from '../lib/index.ts'
import { WholeBody, type ObjectsService } from '../objects/index.ts'
import { headerValue, type RequestHeaders } from './auth/index.ts'
import { Authenticator } from './authenticate.ts'
import type { S3Context, S3Response, S3Settings } from './context.ts'
import { dispatch } from './dispatch.ts'
import type { Endpoint } from './endpoint.ts'
import { S3Error, toS3Error, type ErrorResource } from './errors.ts'
import { metadataHeaderValue } from './headers.ts'
import { parseQuery, resolveAddressing, route, splitTarget } from './router.ts'
import { xmlDocument, type XmlChild } from './xml.ts'

export interface S3AppOptions {
  readonly objects: ObjectsService
  readonly clock: Clock
  readonly random?: Random
  /** Default: no logging (tests). */
  readonly logger?: FastifyBaseLogger
  /** Base domains for virtual-host-style addressing (bucket.<domain>); empty: path-style only. */
  readonly baseDomains: readonly string[]
  /** When set, the only region accepted in signatures and LocationConstraint. */
  readonly region?: string
  /** TLS key and certificate (PEM): the app serves HTTPS. */
  readonly https?: { readonly key: string; readonly cert: string }
  readonly isShuttingDown: () => boolean
  /** Fires when the server gives up waiting for in-flight requests at shutdown. */
  readonly shutdownSignal: AbortSignal
  /** Called with a bug caught inside a request (main/ logs it and exits). */
  readonly onBug: (error: Error) => void
}

const allMethods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH'] as const

/** Assertion failures and type errors are bugs; other errors are operational. */
export function isBug(error: unknown): error is Error {
  return error instanceof AssertionError || error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError
}

/** 16 upper-case hex digits like AWS's: a random per-process prefix and a counter. */
function requestIdGenerator(random: Random): () => string {
  const prefix = random.bytes(4).toString('hex').toUpperCase()
  let counter = 0
  return () => `${prefix}${(counter++ % 0x100000000).toString(16).toUpperCase().padStart(8, '0')}`
}

export function buildS3App(options: S3AppOptions): FastifyInstance {
  const random = options.random ?? systemRandom
  const nextRequestId = requestIdGenerator(random)
  const app = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => nextRequestId(),
    rewriteUrl: () => '/',
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    requestTimeout: 0,
    ...(options.https === undefined ? {} : { https: { key: options.https.key, cert: options.https.cert } }),
  }) as unknown as FastifyInstance
  for (const method of ['PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH']) app.addHttpMethod(method, { hasBody: false, overrideExisting: true })
  // Without this listener Node answers 100 Continue at once; with it, handlers decide.
  app.server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => app.server.emit('request', request, response))
  const hostId = random.bytes(24).toString('base64')
  const handler = createHandler(options, hostId)
  app.route({ method: [...allMethods], url: '/', exposeHeadRoute: false, handler })
  // Whatever fastify itself rejects (before or around the handler) is still an S3 XML error.
  app.setErrorHandler(async (error: unknown, request, reply) => {
    reply.header('x-amz-request-id', request.id).header('x-amz-id-2', hostId)
    const status = (error as { statusCode?: unknown }).statusCode
    const wrapped = typeof status === 'number' && status >= 400 && status < 500 ? new S3Error('InvalidRequest', (error as Error).message, { cause: error }) : error
    return sendError(request, reply, wrapped, { resource: {}, resourcePath: splitTarget((request.raw as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.raw.url ?? '/').rawPath, continueExpected: false, continueSent: false }, hostId, options)
  })
  return app
}

interface RequestState {
  resource: ErrorResource
  resourcePath: string
  continueExpected: boolean
  continueSent: boolean
}

function createHandler(options: S3AppOptions, hostId: string) {
  const authenticator = new Authenticator({ users: options.objects.users, clock: options.clock, ...(options.region === undefined ? {} : { region: options.region }) })
  const settings: S3Settings = { defaultRegion: options.region ?? 'us-east-1', clock: options.clock, ...(options.region === undefined ? {} : { region: options.region }) }

  return async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const raw = request.raw
    reply.header('x-amz-request-id', request.id).header('x-amz-id-2', hostId)
    const headers = distinctHeaders(raw)
    const { rawPath, rawQuery } = splitTarget((raw as IncomingMessage & { originalUrl?: string }).originalUrl ?? raw.url ?? '/')
    const state: RequestState = { resource: {}, resourcePath: rawPath, continueExpected: /100-continue/i.test(headerValue(headers, 'expect') ?? ''), continueSent: false }
    const controller = new AbortController()
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort(new Error('the client closed the connection'))
    })
    try {
      if (options.isShuttingDown()) throw new S3Error('ServiceUnavailable', 'The server is shutting down. Please retry.')
      const { principal, verified } = await authenticator.authenticate({ method: raw.method ?? 'GET', rawPath, rawQuery, headers })
      const addressing = resolveAddressing(headerValue(headers, 'host'), rawPath, options.baseDomains)
      state.resource = { ...(addressing.bucket === undefined ? {} : { bucket: addressing.bucket }), ...(addressing.key === undefined ? {} : { key: addressing.key }) }
      state.resourcePath = addressing.bucket === undefined ? '/' : `/${addressing.bucket}${addressing.key === undefined ? '' : `/${addressing.key}`}`
      const endpoint = route(raw.method ?? 'GET', addressing, parseQuery(rawQuery), { copySource: headers['x-amz-copy-source'] !== undefined })
      state.resource = { ...state.resource, ...endpointResource(endpoint) }
      const context: S3Context = {
        requestId: request.id,
        method: raw.method ?? 'GET',
        origin: `${options.https === undefined ? 'http' : 'https'}://${headerValue(headers, 'host') ?? 'localhost'}`,
        headers,
        principal,
        verified,
        objects: options.objects,
        settings,
        signal: AbortSignal.any([controller.signal, options.shutdownSignal]),
        source: raw,
        sendContinue: () => {
          if (state.continueExpected && !state.continueSent && !reply.raw.headersSent) reply.raw.writeContinue()
          state.continueSent = true
        },
      }
      await checkExpectedBucketOwner(context, endpoint)
      return send(reply, await dispatch(context, endpoint), raw.method, options)
    } catch (error) {
      return sendError(request, reply, error, state, hostId, options)
    }
  }
}

/** x-amz-expected-bucket-owner: the request fails unless the bucket belongs to that account. */
async function checkExpectedBucketOwner(context: S3Context, endpoint: Endpoint): Promise<void> {
  const expected = headerValue(context.headers, 'x-amz-expected-bucket-owner')
  if (expected === undefined || endpoint.kind === 'CreateBucket' || !('bucket' in endpoint) || endpoint.bucket === undefined) return
  const info = await context.objects.headBucket(context.principal, endpoint.bucket)
  if (info.owner !== expected.trim()) throw new S3Error('AccessDenied')
}

/** Lowercase names, repeated headers as arrays (what signing needs); built from rawHeaders where Node's getter is absent (light-my-request). */
function distinctHeaders(raw: IncomingMessage): RequestHeaders {
  if ((raw as Partial<IncomingMessage>).headersDistinct !== undefined) return raw.headersDistinct
  const headers: Record<string, string[]> = {}
  for (let index = 0; index + 1 < raw.rawHeaders.length; index += 2) {
    const name = (raw.rawHeaders[index] ?? '').toLowerCase()
    ;(headers[name] ??= []).push(raw.rawHeaders[index + 1] ?? '')
  }
  return headers
}

function endpointResource(endpoint: Endpoint): ErrorResource {
  const resource: { uploadId?: string; versionId?: string } = {}
  if ('uploadId' in endpoint) resource.uploadId = endpoint.uploadId
  if ('versionId' in endpoint && endpoint.versionId !== undefined) resource.versionId = endpoint.versionId
  return resource
}

/** type/subtype of RFC 9110 tokens, no parameters: what fastify's ContentType parses as is. */
const plainMediaType = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+$/

function send(reply: FastifyReply, response: S3Response, method: string | undefined, options: S3AppOptions): FastifyReply {
  reply.code(response.status)
  // Header values can carry client data (metadata, response-* overrides): never let one make
  // Node throw; anything outside latin1 goes out RFC 2047 encoded, as S3 does for metadata.
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, metadataHeaderValue(value))
  if (options.isShuttingDown()) reply.header('connection', 'close')
  const { body } = response
  if (body === undefined || method === 'HEAD') return reply.send()
  if (typeof body === 'string') return reply.send(body)
  // Small objects are whole in memory: one write with the headers, not a stream's several.
  // Only when fastify keeps our Content-Type: for a Buffer it replaces one it cannot parse as
  // type/subtype (an RFC 2047-encoded override, parameters it rejects) with octet-stream.
  if (body instanceof WholeBody && plainMediaType.test(response.headers['content-type'] ?? '')) return reply.send(body.bytes)
  return reply.send(Readable.from(body, { objectMode: false }))
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown, state: RequestState, hostId: string, options: S3AppOptions): FastifyReply {
  let s3Error = toS3Error(error, state.resource)
  // The path only: a query string may be a presigned URL, which is a bearer credential.
  const target = { method: request.method, path: request.url.split('?', 1)[0] }
  if (s3Error === undefined) {
    if (isBug(error)) {
      request.log.fatal({ err: error }, 'bug in an S3 request handler')
      options.onBug(error)
    } else {
      request.log.error({ err: error, ...target }, 'S3 request failed')
    }
    s3Error = new S3Error('InternalError', undefined, { cause: error })
  } else if (s3Error.status >= 500) {
    request.log.error({ err: error, code: s3Error.code, ...target }, 'S3 request failed')
  } else {
    request.log.debug({ code: s3Error.code, message: s3Error.message, ...target }, 'S3 request refused')
  }
  if (reply.sent || reply.raw.headersSent) {
    // The answer was already on its way (a GET body failed mid-stream): cut the connection so
    // the client sees a truncated body, never a complete-looking one.
    reply.raw.destroy(error instanceof Error ? error : undefined)
    return reply
  }
  reply.code(s3Error.status)
  for (const [name, value] of Object.entries(s3Error.headers)) reply.header(name, metadataHeaderValue(value))
  // A client waiting for 100 Continue never sent the body: the connection cannot be reused.
  if ((state.continueExpected && !state.continueSent) || options.isShuttingDown()) reply.header('connection', 'close')
  if (request.raw.method === 'HEAD' || s3Error.status === 304) return reply.send()
  const children: XmlChild[] = [['Code', s3Error.code], ['Message', s3Error.message]]
  for (const [name, value] of Object.entries(s3Error.details)) children.push([name, value])
  children.push(['Resource', state.resourcePath], ['RequestId', request.id], ['HostId', hostId])
  return reply.header('content-type', 'application/xml').send(xmlDocument('Error', children, { namespace: false }))
}

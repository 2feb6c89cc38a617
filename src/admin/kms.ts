// Admin routes for the built-in KMS (registered inside the HTTP Basic scope of app.ts):
//   POST /admin/v1/kms/keys                 {"description"?, "alias"?} -> 201 key
//   GET  /admin/v1/kms/keys                 -> 200 {keys: [key, ...]}
//   GET  /admin/v1/kms/keys/:key            -> 200 key        (:key = id, ARN or alias, URL-encoded)
//   POST /admin/v1/kms/keys/:key/disable    -> 200 key
//   POST /admin/v1/kms/keys/:key/enable     -> 200 key
//   POST /admin/v1/kms/keys/:key/rotate     -> 200 key        (a new generation for new encryptions)
// A key is {keyId, arn, description, state, createdMs, stateChangedMs?, aliases,
// currentGeneration, generations: [{generation, createdMs}]}; key material never leaves the
// server. Errors are StoreErrors of the objects layer (unknown key 404, disabled 409, ...).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { KeyManagement } from '../objects/index.ts'

const createSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: { description: { type: 'string', maxLength: 8192 }, alias: { type: 'string', minLength: 1, maxLength: 256 } },
  },
} as const

type KeyAction = 'disable' | 'enable' | 'rotate'

export function kmsRoutes(scope: FastifyInstance, kms: () => KeyManagement | undefined): void {
  // Both fields are optional, so is the body: `curl -X POST .../kms/keys` creates a key.
  const emptyBody = async (request: FastifyRequest) => {
    request.body ??= {}
  }
  scope.post('/kms/keys', { schema: createSchema, preValidation: emptyBody }, async (request, reply) => {
    const service = kms()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    const body = (request.body ?? {}) as { description?: string; alias?: string }
    const created = await service.createKey({ ...(body.description === undefined ? {} : { description: body.description }), ...(body.alias === undefined ? {} : { alias: body.alias }) })
    return reply.code(201).send(created)
  })

  scope.get('/kms/keys', async (_request, reply) => {
    const service = kms()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    return reply.send({ keys: await service.listKeys() })
  })

  // A wildcard route: aliases and ARNs contain "/" (clients URL-encode it, but not all proxies keep %2F).
  scope.get('/kms/keys/*', async (request, reply) => {
    const service = kms()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    return reply.send(await service.describeKey(safeDecode((request.params as { '*': string })['*'])))
  })

  scope.post('/kms/keys/*', async (request, reply) => {
    const service = kms()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    const { reference, action } = splitPath((request.params as { '*': string })['*'])
    switch (action) {
      case 'disable':
        return reply.send(await service.disableKey(reference))
      case 'enable':
        return reply.send(await service.enableKey(reference))
      case 'rotate':
        return reply.send(await service.rotateKey(reference))
      default:
        return reply.code(404).send({ error: 'no such route' })
    }
  })
}

/** "<reference>[/disable|/enable|/rotate]", the reference URL-decoded. */
function splitPath(path: string): { reference: string; action: KeyAction | undefined } {
  const decoded = safeDecode(path)
  const match = /^(.+)\/(disable|enable|rotate)$/.exec(decoded)
  return match === null ? { reference: decoded, action: undefined } : { reference: match[1] ?? '', action: match[2] as KeyAction }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

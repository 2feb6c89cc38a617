// Admin routes for S3 users (registered inside the HTTP Basic scope of app.ts):
//   POST   /admin/v1/users           {"name": "alice"} -> 201 {userId, name, accessKeyId, secretKey}
//   GET    /admin/v1/users           -> 200 {users: [{userId, name, accessKeyIds, createdMs}]}
//   DELETE /admin/v1/users/:name     -> 204 (409 while the user still owns buckets)
// The secret is in the creation answer only; it is never logged and cannot be read again.
// Errors are StoreErrors from the objects layer, mapped by the admin error handler.
import type { FastifyInstance } from 'fastify'
import type { UserService } from '../objects/index.ts'

const createSchema = {
  body: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  },
} as const

export function userRoutes(scope: FastifyInstance, users: () => UserService | undefined): void {
  const available = (): UserService | undefined => users()

  scope.post('/users', { schema: createSchema }, async (request, reply) => {
    const service = available()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    const { name } = request.body as { name: string }
    const created = await service.createUser(name)
    return reply.code(201).header('cache-control', 'no-store').send(created)
  })

  scope.get('/users', async (_request, reply) => {
    const service = available()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    return reply.send({ users: await service.listUsers() })
  })

  scope.delete('/users/:name', async (request, reply) => {
    const service = available()
    if (service === undefined) return reply.code(503).send({ error: 'not available yet' })
    await service.deleteUser((request.params as { name: string }).name)
    return reply.code(204).send()
  })
}

// Admin API for file systems (docs/filesystems.md "Admin API"), an encapsulated plugin registered
// inside the authenticated /admin/v1 scope of app.ts:
//   GET    /filesystems                      { fileSystems: FileSystemDescription[] }
//   POST   /filesystems                      create (body: name, exportPolicy, lifecycle, rootDirectory) -> 201
//   GET    /filesystems/:nameOrId            FileSystemDescription + mount hints
//   PATCH  /filesystems/:nameOrId            change name, exportPolicy fields, lifecycle fields
//   DELETE /filesystems/:nameOrId            204 (its data is removed in the background)
//   POST   /filesystems/:nameOrId/lifecycle  run a lifecycle pass now -> LifecycleReport
// Bodies are validated here: unknown fields and wrong types are 400 INVALID_ARGUMENT; value rules
// (names, CIDR blocks, ids, day counts) are the files layer's.
import type { FastifyInstance } from 'fastify'
import { StoreError } from '../lib/index.ts'
import type { ExportPolicy, FileEngine, FileSystemDescription, LifecyclePolicy } from '../files/index.ts'

export interface NfsTarget {
  host: string
  port: number
}

export interface FileSystemRoutesOptions {
  files: FileEngine
  /** Where NFS clients connect (for mount hints); undefined when NFS is not served. */
  nfsTarget: () => NfsTarget | undefined
}

type Body = Record<string, unknown>

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message)
}

function objectOf(raw: unknown, what: string, allowed: readonly string[]): Body {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${what} must be a JSON object`)
  const body = raw as Body
  const unknown = Object.keys(body).filter((name) => !allowed.includes(name))
  if (unknown.length > 0) throw invalid(`${what}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`)
  return body
}

function typed<T>(body: Body, name: string, check: (value: unknown) => boolean, what: string): T | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (!check(value)) throw invalid(`${name} must be ${what}`)
  return value as T
}

const isBoolean = (value: unknown): boolean => typeof value === 'boolean'
const isInteger = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value)
const isStringList = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === 'string')

const policyFields = ['readOnly', 'rootSquash', 'anonymousUid', 'anonymousGid', 'allowedClients'] as const
const lifecycleFields = ['transitionToIaAfterDays', 'transitionToStandardOnAccess'] as const

/** Only the fields given: the files layer merges them over defaults or the current policy. */
function exportPolicyOf(raw: unknown): Partial<ExportPolicy> | undefined {
  if (raw === undefined) return undefined
  const body = objectOf(raw, 'exportPolicy', policyFields)
  const policy: { -readonly [K in keyof ExportPolicy]?: ExportPolicy[K] } = {}
  policy.readOnly = typed(body, 'readOnly', isBoolean, 'true or false')
  policy.rootSquash = typed(body, 'rootSquash', isBoolean, 'true or false')
  policy.anonymousUid = typed(body, 'anonymousUid', isInteger, 'an integer')
  policy.anonymousGid = typed(body, 'anonymousGid', isInteger, 'an integer')
  policy.allowedClients = typed(body, 'allowedClients', isStringList, 'a list of addresses or CIDR blocks')
  return Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined))
}

function lifecycleOf(raw: unknown): Partial<LifecyclePolicy> | undefined {
  if (raw === undefined) return undefined
  const body = objectOf(raw, 'lifecycle', lifecycleFields)
  const days = body.transitionToIaAfterDays
  if (days !== undefined && days !== null && !isInteger(days)) throw invalid('transitionToIaAfterDays must be a whole number of days or null')
  const onAccess = typed<boolean>(body, 'transitionToStandardOnAccess', isBoolean, 'true or false')
  return {
    ...(days === undefined ? {} : { transitionToIaAfterDays: days as number | null }),
    ...(onAccess === undefined ? {} : { transitionToStandardOnAccess: onAccess }),
  }
}

function rootDirectoryOf(raw: unknown): { uid?: number; gid?: number; mode?: number } | undefined {
  if (raw === undefined) return undefined
  const body = objectOf(raw, 'rootDirectory', ['uid', 'gid', 'mode'])
  const result = {
    uid: typed<number>(body, 'uid', isInteger, 'an integer'),
    gid: typed<number>(body, 'gid', isInteger, 'an integer'),
    mode: typed<number>(body, 'mode', isInteger, 'an integer (e.g. 511 for 0777)'),
  }
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined))
}

/** How to mount a file system: the exact command, for people and scripts. */
export function mountHints(fs: FileSystemDescription, target: NfsTarget | undefined) {
  if (target === undefined) return null
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  return {
    source: `${host}:/${fs.name}`,
    mountCommand: `sudo mount -t nfs4 -o vers=4.1,port=${target.port} ${host}:/${fs.name} /mnt/${fs.name}`,
  }
}

export async function fileSystemRoutes(app: FastifyInstance, options: FileSystemRoutesOptions): Promise<void> {
  const { files, nfsTarget } = options
  const withMount = (fs: FileSystemDescription) => ({ ...fs, mount: mountHints(fs, nfsTarget()) })

  app.get('/filesystems', async () => ({ fileSystems: await files.describeFileSystems() }))
  app.post('/filesystems', async (request, reply) => {
    const body = objectOf(request.body, 'the request body', ['name', 'exportPolicy', 'lifecycle', 'rootDirectory'])
    if (typeof body.name !== 'string') throw invalid('name is required (a string)')
    const exportPolicy = exportPolicyOf(body.exportPolicy)
    const lifecycle = lifecycleOf(body.lifecycle)
    const rootDirectory = rootDirectoryOf(body.rootDirectory)
    const created = await files.createFileSystem(body.name, {
      ...(exportPolicy === undefined ? {} : { exportPolicy }),
      ...(lifecycle === undefined ? {} : { lifecycle }),
      ...(rootDirectory === undefined ? {} : { rootDirectory }),
    })
    return reply.code(201).send(withMount(created))
  })
  app.get<{ Params: { id: string } }>('/filesystems/:id', async (request) => withMount(await files.describeFileSystem(request.params.id)))
  app.patch<{ Params: { id: string } }>('/filesystems/:id', async (request) => {
    const body = objectOf(request.body, 'the request body', ['name', 'exportPolicy', 'lifecycle'])
    const name = typed<string>(body, 'name', (value) => typeof value === 'string', 'a string')
    const exportPolicy = exportPolicyOf(body.exportPolicy)
    const lifecycle = lifecycleOf(body.lifecycle)
    if (name === undefined && exportPolicy === undefined && lifecycle === undefined) throw invalid('say what to change: name, exportPolicy or lifecycle')
    return withMount(await files.updateFileSystem(request.params.id, {
      ...(name === undefined ? {} : { name }),
      ...(exportPolicy === undefined ? {} : { exportPolicy }),
      ...(lifecycle === undefined ? {} : { lifecycle }),
    }))
  })
  app.delete<{ Params: { id: string } }>('/filesystems/:id', async (request, reply) => {
    await files.deleteFileSystem(request.params.id)
    return reply.code(204).send()
  })
  app.post<{ Params: { id: string } }>('/filesystems/:id/lifecycle', async (request) => files.runLifecycle(request.params.id))
}

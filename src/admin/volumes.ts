// Admin API for volumes and snapshots (docs/volumes.md "Admin API"), an encapsulated plugin
// registered inside the authenticated /admin/v1 scope of app.ts:
//   GET    /volumes                          { volumes: VolumeInfo[] }
//   POST   /volumes                          create (body: CreateVolumeBody) -> 201 VolumeInfo
//   GET    /volumes/:id                      VolumeInfo + attach (nbd URI, nbd-client command)
//   PATCH  /volumes/:id                      modify: size (grow), type, iops, throughput, multiAttach
//   DELETE /volumes/:id[?force=true]         204; 409 while attached unless forced
//   POST   /volumes/:id/clone                snapshot + create from it -> 201 VolumeInfo
//   POST   /volumes/:id/hydrate              start eager hydration -> VolumeInfo
//   POST   /volumes/:id/snapshots            start a snapshot -> 202 SnapshotInfo ({"wait":true}: 201 when done)
//   GET    /snapshots[?volumeId=]            { snapshots: SnapshotInfo[] }
//   GET    /snapshots/:id                    SnapshotInfo (with uniqueBytes)
//   DELETE /snapshots/:id                    204
//   GET    /snapshots/:id/changed-blocks/:other[?startBlockIndex=&maxResults=]   ChangedBlocks
// Bodies are validated here: unknown fields and wrong types are 400 INVALID_ARGUMENT (a typo
// must not silently create a default volume). Sizes are bytes or strings like "10GiB".
import type { FastifyInstance } from 'fastify'
import { parseSize, StoreError } from '../lib/index.ts'
import type { VolumeInfo, VolumeService } from '../volumes/index.ts'

export interface NbdTarget {
  host: string
  port: number
}

export interface VolumeRoutesOptions {
  volumes: VolumeService
  /** Where NBD clients connect (for attach hints); undefined when NBD is not served. */
  nbdTarget: () => NbdTarget | undefined
  /** Aborted when the server gives up waiting at shutdown. */
  shutdownSignal: AbortSignal
}

type Body = Record<string, unknown>

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message)
}

function bodyOf(raw: unknown, allowed: readonly string[]): Body {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('the request body must be a JSON object')
  const body = raw as Body
  const unknown = Object.keys(body).filter((name) => !allowed.includes(name))
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`)
  return body
}

function optionalSize(body: Body, name: string): number | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value === 'number') return value
  if (typeof value === 'string') return parseSize(value)
  throw invalid(`${name} must be a number of bytes or a size like "10GiB"`)
}

function optionalInteger(body: Body, name: string): number | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(`${name} must be an integer`)
  return value
}

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalid(`${name} must be true or false`)
  return value
}

function optionalString(body: Body, name: string): string | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalid(`${name} must be a string`)
  return value
}

function queryInteger(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw invalid(`${name} must be a non-negative integer`)
  return Number(value)
}

const createFields = ['size', 'type', 'iops', 'throughput', 'encrypted', 'multiAttach', 'snapshotId', 'eagerHydration', 'description'] as const
const modifyFields = ['size', 'type', 'iops', 'throughput', 'multiAttach', 'description'] as const

function createInput(body: Body) {
  return {
    sizeBytes: optionalSize(body, 'size'),
    type: optionalString(body, 'type'),
    iops: optionalInteger(body, 'iops'),
    throughputMiBps: optionalInteger(body, 'throughput'),
    encrypted: optionalBoolean(body, 'encrypted'),
    multiAttach: optionalBoolean(body, 'multiAttach'),
    snapshotId: optionalString(body, 'snapshotId'),
    eagerHydration: optionalBoolean(body, 'eagerHydration'),
    description: optionalString(body, 'description'),
  }
}

/** How to attach a volume: the exact commands, for people and scripts. */
export function attachHints(volume: VolumeInfo, target: NbdTarget | undefined) {
  if (target === undefined) return null
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  const uri = `nbd://${host}:${target.port}/${volume.exportName}`
  return {
    exportName: volume.exportName,
    nbdUri: uri,
    nbdClientCommand: `sudo nbd-client ${target.host} ${target.port} /dev/nbd0 -N ${volume.exportName} -b 4096`,
    nbdfuseCommand: `nbdfuse /tmp/${volume.exportName} ${uri}`,
    qemuDrive: `-drive file=${uri},format=raw,if=virtio`,
  }
}

export async function volumeRoutes(app: FastifyInstance, options: VolumeRoutesOptions): Promise<void> {
  const { volumes, nbdTarget } = options
  const withAttach = (volume: VolumeInfo) => ({ ...volume, attach: attachHints(volume, nbdTarget()) })

  app.get('/volumes', async () => ({ volumes: await volumes.listVolumes() }))
  app.post('/volumes', async (request, reply) => {
    const volume = await volumes.createVolume(createInput(bodyOf(request.body, createFields)))
    return reply.code(201).send(withAttach(volume))
  })
  app.get<{ Params: { id: string } }>('/volumes/:id', async (request) => withAttach(await volumes.describeVolume(request.params.id)))
  app.patch<{ Params: { id: string } }>('/volumes/:id', async (request) => {
    const body = bodyOf(request.body, modifyFields)
    return withAttach(await volumes.modifyVolume(request.params.id, {
      sizeBytes: optionalSize(body, 'size'),
      type: optionalString(body, 'type'),
      iops: optionalInteger(body, 'iops'),
      throughputMiBps: optionalInteger(body, 'throughput'),
      multiAttach: optionalBoolean(body, 'multiAttach'),
      description: optionalString(body, 'description'),
    }))
  })
  app.delete<{ Params: { id: string }; Querystring: { force?: string } }>('/volumes/:id', async (request, reply) => {
    const force = request.query.force
    if (force !== undefined && force !== 'true' && force !== 'false') throw invalid('force must be true or false')
    await volumes.deleteVolume(request.params.id, { force: force === 'true' })
    return reply.code(204).send()
  })
  app.post<{ Params: { id: string } }>('/volumes/:id/clone', async (request, reply) => {
    const input = createInput(bodyOf(request.body, createFields.filter((name) => name !== 'snapshotId')))
    const clone = await volumes.cloneVolume(request.params.id, input, options.shutdownSignal)
    return reply.code(201).send(withAttach(clone))
  })
  app.post<{ Params: { id: string } }>('/volumes/:id/hydrate', async (request) => withAttach(await volumes.hydrateVolume(request.params.id)))
  app.post<{ Params: { id: string } }>('/volumes/:id/snapshots', async (request, reply) => {
    const body = bodyOf(request.body, ['description', 'wait'])
    const started = await volumes.createSnapshot(request.params.id, { description: optionalString(body, 'description') })
    if (optionalBoolean(body, 'wait') !== true) return reply.code(202).send(started)
    return reply.code(201).send(await volumes.waitForSnapshot(started.snapshotId, options.shutdownSignal))
  })
  app.get<{ Querystring: { volumeId?: string } }>('/snapshots', async (request) => ({ snapshots: await volumes.listSnapshots({ volumeId: request.query.volumeId }) }))
  app.get<{ Params: { id: string } }>('/snapshots/:id', async (request) => volumes.describeSnapshot(request.params.id))
  app.delete<{ Params: { id: string } }>('/snapshots/:id', async (request, reply) => {
    await volumes.deleteSnapshot(request.params.id)
    return reply.code(204).send()
  })
  app.get<{ Params: { id: string; other: string }; Querystring: { startBlockIndex?: string; maxResults?: string } }>('/snapshots/:id/changed-blocks/:other', async (request) =>
    volumes.diffSnapshots(request.params.id, request.params.other, {
      startBlockIndex: queryInteger(request.query.startBlockIndex, 'startBlockIndex'),
      maxResults: queryInteger(request.query.maxResults, 'maxResults'),
    }),
  )
}

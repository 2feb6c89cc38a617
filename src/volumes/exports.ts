// The ExportProvider side of the volume service (src/volumes/api.ts): export names are volume
// ids (read-write) and snapshot ids (read-only).
//
// Attachment: a volume is attached to one client (clientKey) at a time; that client may open
// several connections. Another client gets INVALID_STATE unless the volume is multi-attach.
// The attachment is released with the client's last connection. Snapshots may be read by any
// number of clients. An export's size is the volume's size when it was opened (NBD has no live
// resize: a grown volume shows its new size to new connections).
// Never: let a released export do I/O (CLOSED), or count a release twice.
import { chunkIdHex, StoreError, volumeLimits, type ChunkId } from '../lib/index.ts'
import type { AllocationExtent, BlockExport, BlockSizes, ExportProvider, ExportSummary } from './api.ts'
import type { VolumeContext } from './context.ts'
import { isSnapshotId, isVolumeId } from './ids.ts'
import type { LiveVolume } from './live-volume.ts'
import type { ManifestReader } from './manifest.ts'
import type { SnapshotRecord, VolumeRecord } from './records.ts'
import { listSnapshots } from './snapshot-ops.ts'
import { listVolumes } from './volume-ops.ts'

const extentBytes = volumeLimits.extentBytes

type ExportDescription = Awaited<ReturnType<ExportProvider['describe']>>

function blockSizesOf(encrypted: boolean): BlockSizes {
  // Encrypted heads work in 4 KiB sectors: smaller writes cost a read-modify-write.
  return { minimumBytes: encrypted ? volumeLimits.sectorBytes : 512, preferredBytes: volumeLimits.sectorBytes, maximumBytes: volumeLimits.requestMaxBytes }
}

function volumeDescription(record: VolumeRecord): ExportDescription {
  return {
    name: record.id,
    description: `${record.type} volume, ${record.sizeBytes / 2 ** 30} GiB${record.encrypted ? ', encrypted' : ''}${record.description === '' ? '' : `: ${record.description}`}`,
    sizeBytes: record.sizeBytes,
    readOnly: false,
    blockSizes: blockSizesOf(record.encrypted),
    canTrim: true,
    canWriteZeroes: true,
    canFastZero: true,
    multiConn: true,
  }
}

function snapshotDescription(record: SnapshotRecord): ExportDescription {
  return {
    name: record.id,
    description: `snapshot of ${record.volumeId} (read-only)${record.description === '' ? '' : `: ${record.description}`}`,
    sizeBytes: record.sizeBytes,
    readOnly: true,
    blockSizes: blockSizesOf(false),
    canTrim: false,
    canWriteZeroes: false,
    canFastZero: false,
    multiConn: true,
  }
}

function notFound(name: string): StoreError {
  return new StoreError('NOT_FOUND', `no export named "${name}" (export names are volume ids vol-... and snapshot ids snap-...)`, { subject: 'export' })
}

async function exportRecord(context: VolumeContext, name: string): Promise<{ volume: VolumeRecord } | { snapshot: SnapshotRecord }> {
  try {
    if (isVolumeId(name)) {
      const volume = await context.readVolume(name)
      if (volume.state === 'deleting') throw notFound(name)
      return { volume }
    }
    if (isSnapshotId(name)) {
      const snapshot = await context.readSnapshot(name)
      if (snapshot.state !== 'completed') throw notFound(name)
      return { snapshot }
    }
  } catch (error) {
    if (error instanceof StoreError && error.code === 'NOT_FOUND') throw notFound(name)
    throw error
  }
  throw notFound(name)
}

export async function describeExport(context: VolumeContext, name: string): Promise<ExportDescription> {
  context.checkOpen()
  const found = await exportRecord(context, name)
  return 'volume' in found ? volumeDescription(found.volume) : snapshotDescription(found.snapshot)
}

export async function listExports(context: VolumeContext): Promise<ExportSummary[]> {
  const volumes = (await listVolumes(context)).filter((volume) => volume.state !== 'deleting')
  const snapshots = (await listSnapshots(context)).filter((snapshot) => snapshot.state === 'completed')
  return [
    ...volumes.map((volume) => ({ name: volume.volumeId, description: `${volume.type} volume, ${volume.sizeGiB} GiB${volume.encrypted ? ', encrypted' : ''}` })),
    ...snapshots.map((snapshot) => ({ name: snapshot.snapshotId, description: `snapshot of ${snapshot.volumeId} (read-only)` })),
  ]
}

/** Count one more connection of clientKey on name; the caller checked the policy. */
function attach(context: VolumeContext, name: string, clientKey: string): () => void {
  let clients = context.attachments.get(name)
  if (clients === undefined) {
    clients = new Map()
    context.attachments.set(name, clients)
  }
  clients.set(clientKey, (clients.get(clientKey) ?? 0) + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    const current = context.attachments.get(name)
    const count = current?.get(clientKey)
    if (current === undefined || count === undefined) return // force-deleted meanwhile
    if (count > 1) current.set(clientKey, count - 1)
    else current.delete(clientKey)
    if (current.size === 0) context.attachments.delete(name)
  }
}

export async function openExport(context: VolumeContext, name: string, clientKey: string): Promise<BlockExport> {
  context.checkOpen()
  const found = await exportRecord(context, name)
  if ('snapshot' in found) {
    const release = attach(context, name, clientKey)
    return new SnapshotExport(found.snapshot, context.manifestReader(found.snapshot.id), context, release)
  }
  const record = found.volume
  // Check and attach with no await in between, so two clients cannot both pass the check.
  const others = [...(context.attachments.get(name)?.keys() ?? [])].filter((client) => client !== clientKey)
  if (others.length > 0 && !record.multiAttach) {
    throw new StoreError('INVALID_STATE', `Volume ${name} is attached to another client (${others.join(', ')}); it is not a Multi-Attach volume.`, { subject: 'volume' })
  }
  const release = attach(context, name, clientKey)
  try {
    const live = await context.live(record)
    return new VolumeExport(record, live, release)
  } catch (error) {
    release()
    throw error
  }
}

class VolumeExport implements BlockExport {
  readonly name: string
  readonly description: string
  readonly sizeBytes: number
  readonly readOnly = false
  readonly blockSizes: BlockSizes
  readonly canTrim = true
  readonly canWriteZeroes = true
  readonly canFastZero = true
  readonly multiConn = true
  readonly #live: LiveVolume
  readonly #release: () => void
  #released = false

  constructor(record: VolumeRecord, live: LiveVolume, release: () => void) {
    const description = volumeDescription(record)
    this.name = record.id
    this.description = description.description
    // The live size: a grow that committed before this open is visible here.
    this.sizeBytes = live.sizeBytes
    this.blockSizes = description.blockSizes
    this.#live = live
    this.#release = release
  }

  #check(): void {
    if (this.#released) throw new StoreError('CLOSED', `export ${this.name} was released`)
  }

  async read(offsetBytes: number, lengthBytes: number, signal: AbortSignal, into?: Buffer): Promise<Buffer> {
    this.#check()
    return this.#live.read(offsetBytes, lengthBytes, signal, into)
  }
  async write(offsetBytes: number, data: Buffer, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    this.#check()
    return this.#live.write(offsetBytes, data, options)
  }
  async flush(signal: AbortSignal): Promise<void> {
    this.#check()
    return this.#live.flush(signal)
  }
  async trim(offsetBytes: number, lengthBytes: number, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    this.#check()
    return this.#live.trim(offsetBytes, lengthBytes, options)
  }
  async writeZeroes(offsetBytes: number, lengthBytes: number, options: { fua: boolean; noHole: boolean; fastZero: boolean; signal: AbortSignal }): Promise<void> {
    this.#check()
    return this.#live.writeZeroes(offsetBytes, lengthBytes, options)
  }
  async blockStatus(offsetBytes: number, lengthBytes: number, _signal: AbortSignal): Promise<AllocationExtent[]> {
    this.#check()
    return this.#live.blockStatus(offsetBytes, lengthBytes)
  }
  async cache(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<void> {
    this.#check()
    return this.#live.cache(offsetBytes, lengthBytes, signal)
  }
  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
    this.#release()
  }
}

/** Read-only view of a completed snapshot: extents come from its manifest's chunks. */
class SnapshotExport implements BlockExport {
  readonly name: string
  readonly description: string
  readonly sizeBytes: number
  readonly readOnly = true
  readonly blockSizes: BlockSizes
  readonly canTrim = false
  readonly canWriteZeroes = false
  readonly canFastZero = false
  readonly multiConn = true
  readonly #manifest: ManifestReader
  readonly #context: VolumeContext
  readonly #release: () => void
  readonly #chunks = new Map<string, Promise<Buffer>>()
  #released = false

  constructor(record: SnapshotRecord, manifest: ManifestReader, context: VolumeContext, release: () => void) {
    const description = snapshotDescription(record)
    this.name = record.id
    this.description = description.description
    this.sizeBytes = record.sizeBytes
    this.blockSizes = description.blockSizes
    this.#manifest = manifest
    this.#context = context
    this.#release = release
  }

  #check(): void {
    if (this.#released) throw new StoreError('CLOSED', `export ${this.name} was released`)
    this.#context.checkOpen()
  }

  #readOnly(): never {
    throw new StoreError('ACCESS_DENIED', `export ${this.name} is a snapshot: read-only`, { subject: 'snapshot' })
  }

  #chunk(id: ChunkId): Promise<Buffer> {
    const hex = chunkIdHex(id)
    let loading = this.#chunks.get(hex)
    if (loading === undefined) {
      loading = this.#context.chunkStore.get(id)
      loading.catch(() => this.#chunks.delete(hex))
      this.#chunks.set(hex, loading)
      if (this.#chunks.size > volumeLimits.snapshotExportChunkCacheMax) {
        const oldest = this.#chunks.keys().next()
        if (!oldest.done) this.#chunks.delete(oldest.value)
      }
    }
    return loading
  }

  async read(offsetBytes: number, lengthBytes: number, _signal: AbortSignal): Promise<Buffer> {
    this.#check()
    const out = Buffer.alloc(lengthBytes)
    let at = offsetBytes
    while (at < offsetBytes + lengthBytes) {
      const extent = Math.floor(at / extentBytes)
      const start = at - extent * extentBytes
      const length = Math.min(extentBytes - start, offsetBytes + lengthBytes - at)
      const id = await this.#manifest.entry(extent)
      if (id !== null) (await this.#chunk(id)).copy(out, at - offsetBytes, start, start + length)
      at += length
    }
    return out
  }
  async write(): Promise<void> {
    this.#readOnly()
  }
  async flush(): Promise<void> {
    this.#check()
  }
  async trim(): Promise<void> {
    this.#readOnly()
  }
  async writeZeroes(): Promise<void> {
    this.#readOnly()
  }
  async blockStatus(offsetBytes: number, lengthBytes: number): Promise<AllocationExtent[]> {
    this.#check()
    const runs: AllocationExtent[] = []
    let at = offsetBytes
    while (at < offsetBytes + lengthBytes) {
      const extent = Math.floor(at / extentBytes)
      const length = Math.min(extentBytes - (at - extent * extentBytes), offsetBytes + lengthBytes - at)
      const zero = (await this.#manifest.entry(extent)) === null
      const last = runs.at(-1)
      if (last !== undefined && last.zero === zero) last.lengthBytes += length
      else runs.push({ lengthBytes: length, hole: zero, zero })
      at += length
    }
    return runs
  }
  async cache(): Promise<void> {
    this.#check()
  }
  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
    this.#release()
  }
}


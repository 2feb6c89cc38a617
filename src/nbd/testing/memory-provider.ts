// An in-memory ExportProvider for NBD tests: each export is a Buffer with an allocation map
// (per allocation block: hole, data, or allocated zeroes), so block status, trim, write-zeroes
// NO_HOLE and OFFSET_HOLE reads have something real to report.
//
// It behaves like the contract in src/volumes/api.ts says a real provider does: one client per
// export unless multi-attach (INVALID_STATE otherwise), NOT_FOUND for unknown names,
// NOT_IMPLEMENTED for FAST_ZERO when zeroing is not cheap, ABORTED when the signal fired. And
// it asserts what the NBD edge promises (ranges inside the export, aligned, positive lengths,
// release() exactly once, no call after release), so a server that lets a bad request through
// fails the test loudly. `hook` lets a test delay, fail or observe each operation.
import { AssertionError } from 'node:assert'
import { assert, StoreError, throwIfAborted } from '../../lib/index.ts'
import type { AllocationExtent, BlockExport, BlockSizes, ExportProvider, ExportSummary } from '../../volumes/api.ts'

export interface MemoryExportOptions {
  name: string
  sizeBytes: number
  description?: string
  readOnly?: boolean
  blockSizes?: Partial<BlockSizes>
  canTrim?: boolean
  canWriteZeroes?: boolean
  /** Default true: zeroing memory is cheap. */
  canFastZero?: boolean
  multiConn?: boolean
  /** Several clients may attach at once (io1/io2 multi-attach). */
  multiAttach?: boolean
  /** Granularity of the allocation map; default the preferred block size. */
  allocationBlockBytes?: number
  /** Initial contents (copied), e.g. a snapshot's. */
  contents?: Buffer
}

export type MemoryOperation = 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes' | 'blockStatus' | 'cache'

/** Called before each operation runs; may await, throw a StoreError, or record. */
export type MemoryHook = (operation: MemoryOperation, offsetBytes: number, lengthBytes: number, signal: AbortSignal) => Promise<void> | void

const HOLE = 0
const DATA = 1
const ZERO = 2

export class MemoryVolume {
  readonly options: Required<Omit<MemoryExportOptions, 'blockSizes' | 'contents'>> & { blockSizes: BlockSizes }
  readonly data: Buffer
  /** One state per allocation block: HOLE (reads zero, unallocated), DATA, ZERO (allocated zeroes). */
  readonly allocation: Uint8Array
  readonly counters = { reads: 0, writes: 0, fuaWrites: 0, flushes: 0, trims: 0, zeroes: 0, blockStatus: 0, caches: 0, opens: 0, releases: 0 }
  /** Client key -> open attachments. */
  readonly attachments = new Map<string, number>()
  hook: MemoryHook | undefined

  constructor(options: MemoryExportOptions) {
    const preferredBytes = options.blockSizes?.preferredBytes ?? 4096
    const blockSizes: BlockSizes = {
      minimumBytes: options.blockSizes?.minimumBytes ?? 1,
      preferredBytes,
      maximumBytes: options.blockSizes?.maximumBytes ?? 32 * 1024 * 1024,
    }
    this.options = {
      name: options.name,
      sizeBytes: options.sizeBytes,
      description: options.description ?? '',
      readOnly: options.readOnly ?? false,
      blockSizes,
      canTrim: options.canTrim ?? true,
      canWriteZeroes: options.canWriteZeroes ?? true,
      canFastZero: options.canFastZero ?? true,
      multiConn: options.multiConn ?? true,
      multiAttach: options.multiAttach ?? false,
      allocationBlockBytes: options.allocationBlockBytes ?? preferredBytes,
    }
    this.data = Buffer.alloc(options.sizeBytes)
    this.allocation = new Uint8Array(Math.ceil(options.sizeBytes / this.options.allocationBlockBytes))
    if (options.contents !== undefined) {
      options.contents.copy(this.data)
      this.#mark(0, Math.min(options.contents.length, options.sizeBytes), DATA, true)
    }
  }

  summary(): ExportSummary {
    return { name: this.options.name, description: this.options.description }
  }

  /** Mark blocks of [offset, offset+length): whole blocks always; partial ones only if `partial`. */
  #mark(offsetBytes: number, lengthBytes: number, state: number, partial: boolean): void {
    const block = this.options.allocationBlockBytes
    const end = offsetBytes + lengthBytes
    for (let index = Math.floor(offsetBytes / block); index * block < end; index += 1) {
      const whole = index * block >= offsetBytes && Math.min((index + 1) * block, this.options.sizeBytes) <= end
      if (whole || partial) this.allocation[index] = state
      else if (this.allocation[index] === HOLE && state === DATA) this.allocation[index] = DATA
    }
  }

  read(offsetBytes: number, lengthBytes: number): Buffer {
    this.counters.reads += 1
    return Buffer.from(this.data.subarray(offsetBytes, offsetBytes + lengthBytes))
  }

  write(offsetBytes: number, data: Buffer, fua: boolean): void {
    this.counters.writes += 1
    if (fua) this.counters.fuaWrites += 1
    data.copy(this.data, offsetBytes)
    this.#mark(offsetBytes, data.length, DATA, true)
  }

  trim(offsetBytes: number, lengthBytes: number): void {
    this.counters.trims += 1
    this.data.fill(0, offsetBytes, offsetBytes + lengthBytes)
    this.#mark(offsetBytes, lengthBytes, HOLE, false)
  }

  writeZeroes(offsetBytes: number, lengthBytes: number, noHole: boolean): void {
    this.counters.zeroes += 1
    this.data.fill(0, offsetBytes, offsetBytes + lengthBytes)
    this.#mark(offsetBytes, lengthBytes, noHole ? ZERO : HOLE, false)
  }

  blockStatus(offsetBytes: number, lengthBytes: number): AllocationExtent[] {
    this.counters.blockStatus += 1
    const block = this.options.allocationBlockBytes
    const end = offsetBytes + lengthBytes
    const extents: AllocationExtent[] = []
    let at = offsetBytes
    while (at < end) {
      const index = Math.floor(at / block)
      const state = this.allocation[index] ?? HOLE
      const next = Math.min((index + 1) * block, end)
      const extent = { lengthBytes: next - at, hole: state === HOLE, zero: state !== DATA }
      const last = extents.at(-1)
      if (last !== undefined && last.hole === extent.hole && last.zero === extent.zero) last.lengthBytes += extent.lengthBytes
      else extents.push(extent)
      at = next
    }
    return extents
  }
}

export class MemoryExportProvider implements ExportProvider {
  readonly volumes = new Map<string, MemoryVolume>()
  /** Every release() call, to check "exactly once per open". */
  readonly releases: Array<{ name: string; clientKey: string }> = []

  constructor(exports: readonly MemoryExportOptions[]) {
    for (const options of exports) this.volumes.set(options.name, new MemoryVolume(options))
  }

  volume(name: string): MemoryVolume {
    const volume = this.volumes.get(name)
    assert(volume !== undefined, `test export ${name} exists`)
    return volume
  }

  async list(): Promise<ExportSummary[]> {
    return [...this.volumes.values()].map((volume) => volume.summary())
  }

  async describe(name: string): Promise<ReturnType<MemoryExportProvider['describeSync']>> {
    return this.describeSync(name)
  }

  describeSync(name: string): Omit<BlockExport, 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes' | 'blockStatus' | 'cache' | 'release'> {
    const volume = this.volumes.get(name)
    if (volume === undefined) throw new StoreError('NOT_FOUND', `no export named ${JSON.stringify(name)}`, { subject: 'export' })
    const { options } = volume
    return {
      name: options.name, description: options.description, sizeBytes: options.sizeBytes, readOnly: options.readOnly,
      blockSizes: options.blockSizes, canTrim: options.canTrim, canWriteZeroes: options.canWriteZeroes,
      canFastZero: options.canFastZero, multiConn: options.multiConn,
    }
  }

  async open(name: string, clientKey: string): Promise<BlockExport> {
    const info = this.describeSync(name)
    const volume = this.volume(name)
    const others = [...volume.attachments.keys()].filter((key) => key !== clientKey)
    if (others.length > 0 && !volume.options.multiAttach) {
      throw new StoreError('INVALID_STATE', `export ${name} is attached by another client`, { subject: 'volume' })
    }
    volume.attachments.set(clientKey, (volume.attachments.get(clientKey) ?? 0) + 1)
    volume.counters.opens += 1
    return new MemoryBlockExport(this, volume, info, clientKey)
  }
}

class MemoryBlockExport implements BlockExport {
  readonly name: string
  readonly description: string
  readonly sizeBytes: number
  readonly readOnly: boolean
  readonly blockSizes: BlockSizes
  readonly canTrim: boolean
  readonly canWriteZeroes: boolean
  readonly canFastZero: boolean
  readonly multiConn: boolean
  readonly #provider: MemoryExportProvider
  readonly #volume: MemoryVolume
  readonly #clientKey: string
  #released = false

  constructor(provider: MemoryExportProvider, volume: MemoryVolume, info: ReturnType<MemoryExportProvider['describeSync']>, clientKey: string) {
    this.name = info.name
    this.description = info.description
    this.sizeBytes = info.sizeBytes
    this.readOnly = info.readOnly
    this.blockSizes = info.blockSizes
    this.canTrim = info.canTrim
    this.canWriteZeroes = info.canWriteZeroes
    this.canFastZero = info.canFastZero
    this.multiConn = info.multiConn
    this.#provider = provider
    this.#volume = volume
    this.#clientKey = clientKey
  }

  async #enter(operation: MemoryOperation, offsetBytes: number, lengthBytes: number, signal: AbortSignal, writes: boolean): Promise<void> {
    assert(!this.#released, `${operation} after release()`)
    const { minimumBytes, maximumBytes } = this.blockSizes
    if (operation !== 'flush') {
      assert(lengthBytes > 0, `${operation}: positive length`)
      assert(offsetBytes >= 0 && offsetBytes + lengthBytes <= this.sizeBytes, `${operation}: range inside the export`)
      assert(offsetBytes % minimumBytes === 0 && lengthBytes % minimumBytes === 0, `${operation}: aligned to the minimum block size`)
    }
    assert(lengthBytes <= maximumBytes, `${operation}: at most the maximum block size`)
    if (writes) assert(!this.readOnly, `${operation} on a read-only export`)
    throwIfAborted(signal)
    await this.#volume.hook?.(operation, offsetBytes, lengthBytes, signal)
    throwIfAborted(signal)
  }

  async read(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<Buffer> {
    await this.#enter('read', offsetBytes, lengthBytes, signal, false)
    return this.#volume.read(offsetBytes, lengthBytes)
  }

  async write(offsetBytes: number, data: Buffer, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    await this.#enter('write', offsetBytes, data.length, options.signal, true)
    this.#volume.write(offsetBytes, data, options.fua)
  }

  async flush(signal: AbortSignal): Promise<void> {
    await this.#enter('flush', 0, 0, signal, false)
    this.#volume.counters.flushes += 1
  }

  async trim(offsetBytes: number, lengthBytes: number, options: { fua: boolean; signal: AbortSignal }): Promise<void> {
    await this.#enter('trim', offsetBytes, lengthBytes, options.signal, true)
    assert(this.canTrim, 'trim only when advertised')
    this.#volume.trim(offsetBytes, lengthBytes)
  }

  async writeZeroes(offsetBytes: number, lengthBytes: number, options: { fua: boolean; noHole: boolean; fastZero: boolean; signal: AbortSignal }): Promise<void> {
    await this.#enter('writeZeroes', offsetBytes, lengthBytes, options.signal, true)
    assert(this.canWriteZeroes, 'write zeroes only when advertised')
    if (options.fastZero && !this.canFastZero) throw new StoreError('NOT_IMPLEMENTED', 'zeroing is not faster than writing on this export')
    this.#volume.writeZeroes(offsetBytes, lengthBytes, options.noHole)
  }

  async blockStatus(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<AllocationExtent[]> {
    await this.#enter('blockStatus', offsetBytes, lengthBytes, signal, false)
    return this.#volume.blockStatus(offsetBytes, lengthBytes)
  }

  async cache(offsetBytes: number, lengthBytes: number, signal: AbortSignal): Promise<void> {
    await this.#enter('cache', offsetBytes, lengthBytes, signal, false)
    this.#volume.counters.caches += 1
  }

  async release(): Promise<void> {
    if (this.#released) throw new AssertionError({ message: `export ${this.name} released twice by ${this.#clientKey}` })
    this.#released = true
    this.#provider.releases.push({ name: this.name, clientKey: this.#clientKey })
    this.#volume.counters.releases += 1
    const count = (this.#volume.attachments.get(this.#clientKey) ?? 0) - 1
    if (count <= 0) this.#volume.attachments.delete(this.#clientKey)
    else this.#volume.attachments.set(this.#clientKey, count)
  }
}

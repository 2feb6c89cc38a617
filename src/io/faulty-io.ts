// A fault-injecting twin of Io for tests. Rules say which operation on which paths fails how:
// EIO, ENOSPC, or short writes (half the bytes written, the rest left for the caller to retry).
// Faults are injected below the StoreError mapping, as the real disk would raise them.
import { fromSystemError } from '../lib/index.ts'
import type { DirEntry, FileHandle, Io, OpenFlags } from './io.ts'

export type FaultOperation = 'open' | 'read' | 'write' | 'sync' | 'syncDir' | 'rename' | 'unlink' | 'truncate'
export type FaultKind = 'EIO' | 'ENOSPC' | 'short-write'

export interface FaultRule {
  operation: FaultOperation
  kind: FaultKind
  /** Only paths matching this pattern; all paths when absent. */
  path?: RegExp
  /** How many times the rule fires before it is spent; forever when absent. */
  times?: number
  /** Let this many matching operations pass before the rule starts firing. */
  after?: number
}

function systemError(kind: 'EIO' | 'ENOSPC', what: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${kind}: injected fault, ${what}`)
  error.code = kind
  return error
}

export class FaultyIo implements Io {
  readonly #inner: Io
  #rules: Array<FaultRule & { seen: number; fired: number }> = []
  /** Count of faults actually injected, for test assertions. */
  injected = 0

  constructor(inner: Io) {
    this.#inner = inner
  }

  addRule(rule: FaultRule): void {
    this.#rules.push({ ...rule, seen: 0, fired: 0 })
  }

  clearRules(): void {
    this.#rules = []
  }

  /** The fault to inject for this operation on this path, if any (and counts it). */
  fault(operation: FaultOperation, path: string): FaultKind | undefined {
    for (const rule of this.#rules) {
      if (rule.operation !== operation || (rule.path && !rule.path.test(path))) continue
      rule.seen += 1
      if (rule.seen <= (rule.after ?? 0)) continue
      if (rule.times !== undefined && rule.fired >= rule.times) continue
      rule.fired += 1
      this.injected += 1
      return rule.kind
    }
    return undefined
  }

  check(operation: FaultOperation, path: string): void {
    const kind = this.fault(operation, path)
    if (kind === 'EIO' || kind === 'ENOSPC') throw fromSystemError(systemError(kind, `${operation} ${path}`), `${operation} ${path}`)
  }

  async open(path: string, flags: OpenFlags, mode?: number): Promise<FileHandle> {
    this.check('open', path)
    return new FaultyFileHandle(this, await this.#inner.open(path, flags, mode))
  }
  async syncDir(path: string): Promise<void> {
    this.check('syncDir', path)
    await this.#inner.syncDir(path)
  }
  async rename(from: string, to: string): Promise<void> {
    this.check('rename', from)
    await this.#inner.rename(from, to)
  }
  async unlink(path: string): Promise<void> {
    this.check('unlink', path)
    await this.#inner.unlink(path)
  }
  mkdirp(path: string, mode?: number): Promise<void> {
    return this.#inner.mkdirp(path, mode)
  }
  readdir(path: string): Promise<DirEntry[]> {
    return this.#inner.readdir(path)
  }
  sizeBytesOf(path: string): Promise<number | undefined> {
    return this.#inner.sizeBytesOf(path)
  }
  freeBytes(path: string): Promise<number> {
    return this.#inner.freeBytes(path)
  }
}

class FaultyFileHandle implements FileHandle {
  readonly #io: FaultyIo
  readonly #inner: FileHandle
  constructor(io: FaultyIo, inner: FileHandle) {
    this.#io = io
    this.#inner = inner
  }
  get path(): string {
    return this.#inner.path
  }
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.#io.check('read', this.path)
    return this.#inner.read(buffer, offset, length, position)
  }
  readInline(buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.#io.check('read', this.path)
    return this.#inner.readInline(buffer, offset, length, position)
  }
  writeInline(buffer: Uint8Array, offset: number, length: number, position: number): number {
    const kind = this.#io.fault('write', this.path)
    if (kind === 'short-write' && length > 1) return this.#inner.writeInline(buffer, offset, Math.floor(length / 2), position)
    if (kind === 'EIO' || kind === 'ENOSPC') {
      if (length > 1) this.#inner.writeInline(buffer, offset, Math.floor(length / 3), position)
      throw fromSystemError(systemError(kind, `write ${this.path}`), `write ${this.path}`)
    }
    return this.#inner.writeInline(buffer, offset, length, position)
  }
  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const kind = this.#io.fault('write', this.path)
    if (kind === 'short-write' && length > 1) return this.#inner.write(buffer, offset, Math.floor(length / 2), position)
    if (kind === 'EIO' || kind === 'ENOSPC') {
      // A failing disk may have written part of the data before failing: leave a torn tail.
      if (length > 1) await this.#inner.write(buffer, offset, Math.floor(length / 3), position)
      throw fromSystemError(systemError(kind, `write ${this.path}`), `write ${this.path}`)
    }
    return this.#inner.write(buffer, offset, length, position)
  }
  async writev(buffers: readonly Uint8Array[], position: number): Promise<number> {
    const joined = Buffer.concat(buffers) // test-only twin: simplicity over copies
    return this.write(joined, 0, joined.length, position)
  }
  sync(): Promise<void> {
    this.#io.check('sync', this.path)
    return this.#inner.sync()
  }
  truncate(lengthBytes: number): Promise<void> {
    this.#io.check('truncate', this.path)
    return this.#inner.truncate(lengthBytes)
  }
  sizeBytes(): Promise<number> {
    return this.#inner.sizeBytes()
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

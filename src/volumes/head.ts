// The head file: a volume's live data, <data-dir>/volumes/<volumeId>.head, a sparse file of the
// volume's size read and written at offset through the Io seam.
//
// Encrypted volumes: every 4 KiB sector n holds AES-256-XTS(head key, tweak n) of its plaintext
// (dm-crypt "plain64" tweaks, src/crypto/xts.ts). A sector of all-zero bytes on disk (a hole, or
// zeroes written by zeroRange) reads as plaintext zeroes: a real ciphertext sector is all zero
// with probability 2^-32768. So holes and zeroed ranges need no cipher work, and they reveal
// only what any sparse file reveals: which sectors were never written or were discarded.
//
// Contract: read() returns plaintext and reads past the end of the file as zeroes (a grow that
// crashed between metadata and truncate); read()/write() of encrypted heads take whole
// sectors, readAny()/writeAny()/zeroAny() any range (read-modify-write of the edge sectors: the
// caller holds the extents exclusively). Nothing is durable before sync().
// Never: write plaintext of an encrypted volume to the file.
import { execFile } from 'node:child_process'
import { dirname } from 'node:path'
import { xtsDecryptSector, xtsEncryptSector } from '../crypto/index.ts'
import { InlineGate, writeAll, type FileHandle, type Io } from '../io/index.ts'
import { assert, StoreError, volumeLimits } from '../lib/index.ts'

const sectorBytes = volumeLimits.sectorBytes
const zeroSector = Buffer.alloc(sectorBytes)
const zeroExtent = Buffer.alloc(volumeLimits.extentBytes)

/**
 * Small head reads and writes run on the event loop while the page cache serves them fast
 * (src/io/inline-gate.ts): one gate for all heads, since they share the page cache and the disk.
 */
export const headInlineGate = new InlineGate()

/** Punch a hole (free the blocks, keep the size); false when the filesystem or tool cannot. */
export type HolePuncher = (path: string, offsetBytes: number, lengthBytes: number) => Promise<boolean>

/**
 * node:fs has no fallocate(2); util-linux's `fallocate --punch-hole` does it. Space is only
 * reclaimed lazily (the volume reads ZERO extents as zeroes without it), so a missing tool or a
 * filesystem without hole punching just keeps the space allocated.
 */
export const fallocatePunchHole: HolePuncher = (path, offsetBytes, lengthBytes) =>
  new Promise((resolve) => {
    execFile('fallocate', ['--punch-hole', '--offset', String(offsetBytes), '--length', String(lengthBytes), path], (error) => resolve(error === null))
  })

export class HeadFile {
  readonly path: string
  readonly #handle: FileHandle
  readonly #xtsKey: Buffer | undefined

  private constructor(path: string, handle: FileHandle, xtsKey: Buffer | undefined) {
    this.path = path
    this.#handle = handle
    this.#xtsKey = xtsKey
  }

  get encrypted(): boolean {
    return this.#xtsKey !== undefined
  }

  /** Create a new sparse head of sizeBytes, durably (file and directory entry). */
  static async create(io: Io, path: string, sizeBytes: number, xtsKey: Buffer | undefined): Promise<HeadFile> {
    const handle = await io.open(path, 'wx+', 0o600)
    try {
      await handle.truncate(sizeBytes)
      await handle.sync()
      await io.syncDir(dirname(path))
    } catch (error) {
      await handle.close().catch(() => undefined)
      await io.unlink(path).catch(() => undefined)
      throw error
    }
    return new HeadFile(path, handle, xtsKey)
  }

  /** Open an existing head; a head shorter than sizeBytes (a grow cut short) is extended. */
  static async open(io: Io, path: string, sizeBytes: number, xtsKey: Buffer | undefined): Promise<HeadFile> {
    const handle = await io.open(path, 'r+')
    try {
      if ((await handle.sizeBytes()) < sizeBytes) {
        await handle.truncate(sizeBytes)
        await handle.sync()
      }
    } catch (error) {
      await handle.close().catch(() => undefined)
      throw error
    }
    return new HeadFile(path, handle, xtsKey)
  }

  /** Plaintext of [offset, offset + length); encrypted heads need whole sectors. */
  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(lengthBytes)
    await this.readInto(offsetBytes, buffer)
    return buffer
  }

  /** Write plaintext at offset; encrypted heads need whole sectors. data is not modified. */
  async write(offsetBytes: number, data: Buffer): Promise<void> {
    this.#checkAligned(offsetBytes, data.length)
    const bytes = this.#xtsKey === undefined ? data : this.#encrypt(data, offsetBytes / sectorBytes)
    let done = 0
    while (done < bytes.length) {
      const written = await headInlineGate.write(this.#handle, bytes, done, bytes.length - done, offsetBytes + done)
      if (written <= 0) throw new StoreError('IO_ERROR', `write ${this.path}: wrote nothing`)
      done += written
    }
  }

  /** Write zero bytes over the range (reads back as zeroes, encrypted or not). */
  async zeroRange(offsetBytes: number, lengthBytes: number): Promise<void> {
    let done = 0
    while (done < lengthBytes) {
      const step = Math.min(zeroExtent.length, lengthBytes - done)
      await writeAll(this.#handle, zeroExtent.subarray(0, step), offsetBytes + done)
      done += step
    }
  }

  /** Plaintext of [offset, offset + target.length) into target (encrypted heads: whole sectors). */
  async readInto(offsetBytes: number, target: Buffer): Promise<void> {
    this.#checkAligned(offsetBytes, target.length)
    let done = 0
    while (done < target.length) {
      const read = await headInlineGate.read(this.#handle, target, done, target.length - done, offsetBytes + done)
      if (read === 0) break
      done += read
    }
    target.fill(0, done)
    if (this.#xtsKey !== undefined) this.#decrypt(target, offsetBytes / sectorBytes)
  }

  /** readAny into a caller's buffer: no allocation unless an encrypted range is unaligned. */
  async readAnyInto(offsetBytes: number, target: Buffer): Promise<void> {
    if (this.#xtsKey === undefined || (offsetBytes % sectorBytes === 0 && target.length % sectorBytes === 0)) {
      await this.readInto(offsetBytes, target)
      return
    }
    ;(await this.readAny(offsetBytes, target.length)).copy(target)
  }

  /** Plaintext of any range: encrypted heads read the covering sectors and slice them. */
  async readAny(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    if (this.#xtsKey === undefined) return this.read(offsetBytes, lengthBytes)
    const start = Math.floor(offsetBytes / sectorBytes) * sectorBytes
    const end = Math.ceil((offsetBytes + lengthBytes) / sectorBytes) * sectorBytes
    const sectors = await this.read(start, end - start)
    return sectors.subarray(offsetBytes - start, offsetBytes - start + lengthBytes)
  }

  /**
   * Write plaintext to any range: unaligned encrypted writes read-modify-write their edge
   * sectors (the caller holds the extents exclusively, so no other write races the merge).
   */
  async writeAny(offsetBytes: number, data: Buffer): Promise<void> {
    if (this.#xtsKey === undefined || (offsetBytes % sectorBytes === 0 && data.length % sectorBytes === 0)) {
      await this.write(offsetBytes, data)
      return
    }
    const start = Math.floor(offsetBytes / sectorBytes) * sectorBytes
    const end = Math.ceil((offsetBytes + data.length) / sectorBytes) * sectorBytes
    const sectors = Buffer.allocUnsafe(end - start)
    ;(await this.read(start, sectorBytes)).copy(sectors, 0)
    if (end - sectorBytes > start) (await this.read(end - sectorBytes, sectorBytes)).copy(sectors, end - start - sectorBytes)
    data.copy(sectors, offsetBytes - start)
    await this.write(start, sectors)
  }

  /** Zero any range: zero bytes for whole sectors, read-modify-write at unaligned encrypted edges. */
  async zeroAny(offsetBytes: number, lengthBytes: number): Promise<void> {
    if (this.#xtsKey === undefined) {
      await this.zeroRange(offsetBytes, lengthBytes)
      return
    }
    const alignedStart = Math.ceil(offsetBytes / sectorBytes) * sectorBytes
    const alignedEnd = Math.floor((offsetBytes + lengthBytes) / sectorBytes) * sectorBytes
    if (alignedEnd <= alignedStart) {
      await this.writeAny(offsetBytes, Buffer.alloc(lengthBytes))
      return
    }
    if (alignedStart > offsetBytes) await this.writeAny(offsetBytes, Buffer.alloc(alignedStart - offsetBytes))
    await this.zeroRange(alignedStart, alignedEnd - alignedStart)
    if (offsetBytes + lengthBytes > alignedEnd) await this.writeAny(alignedEnd, Buffer.alloc(offsetBytes + lengthBytes - alignedEnd))
  }

  async sync(): Promise<void> {
    await this.#handle.sync()
  }

  async grow(sizeBytes: number): Promise<void> {
    await this.#handle.truncate(sizeBytes)
    await this.#handle.sync()
  }

  async close(): Promise<void> {
    await this.#handle.close()
  }

  #checkAligned(offsetBytes: number, lengthBytes: number): void {
    assert(Number.isSafeInteger(offsetBytes) && offsetBytes >= 0 && lengthBytes >= 0, 'head range is non-negative')
    if (this.#xtsKey !== undefined) assert(offsetBytes % sectorBytes === 0 && lengthBytes % sectorBytes === 0, 'encrypted head I/O is whole sectors')
  }

  #decrypt(buffer: Buffer, firstSector: number): void {
    const key = this.#xtsKey!
    for (let at = 0; at < buffer.length; at += sectorBytes) {
      const sector = buffer.subarray(at, at + sectorBytes)
      if (sector.equals(zeroSector)) continue
      xtsDecryptSector(key, firstSector + at / sectorBytes, sector, sector)
    }
  }

  #encrypt(data: Buffer, firstSector: number): Buffer {
    const key = this.#xtsKey!
    const out = Buffer.allocUnsafe(data.length)
    for (let at = 0; at < data.length; at += sectorBytes) {
      xtsEncryptSector(key, firstSector + at / sectorBytes, data.subarray(at, at + sectorBytes), out.subarray(at, at + sectorBytes))
    }
    return out
  }
}

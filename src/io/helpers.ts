// Helpers over Io that every module needs: full writes, exact reads, atomic small files.
import { dirname } from 'node:path'
import { StoreError } from '../lib/index.ts'
import type { FileHandle, Io } from './io.ts'

/** Write all of buffer at position, looping over short writes. */
export async function writeAll(handle: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < buffer.length) {
    const written = await handle.write(buffer, done, buffer.length - done, position + done)
    if (written <= 0) throw new StoreError('IO_ERROR', `write ${handle.path}: wrote nothing`)
    done += written
  }
}

/** Write several buffers back to back at position, looping over short writes. */
export async function writevAll(handle: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<number> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0)
  let done = await handle.writev(buffers, position)
  if (done === total) return total
  // A short vectored write: finish buffer by buffer from where it stopped.
  let skip = done
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length
      continue
    }
    await writeAll(handle, buffer.subarray(skip), position + done)
    done += buffer.length - skip
    skip = 0
  }
  return total
}

/** Read exactly length bytes at position, or throw when the file ends first. */
export async function readExactly(handle: FileHandle, length: number, position: number, into?: Buffer): Promise<Buffer> {
  const buffer = into ?? Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const read = await handle.read(buffer, done, length - done, position + done)
    if (read === 0) {
      throw new StoreError('IO_ERROR', `read ${handle.path}: file ends at ${position + done}, wanted ${position + length}`)
    }
    done += read
  }
  return buffer.subarray(0, length)
}

/** Read a whole (small) file, or undefined when it does not exist. */
export async function readSmallFile(io: Io, path: string): Promise<Buffer | undefined> {
  const sizeBytes = await io.sizeBytesOf(path)
  if (sizeBytes === undefined) return undefined
  const handle = await io.open(path, 'r')
  try {
    return await readExactly(handle, sizeBytes, 0)
  } finally {
    await handle.close()
  }
}

/** temp -> write -> fsync -> rename -> fsync(dir): the file is either old or new after a crash. */
export async function writeFileAtomic(io: Io, path: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const temporaryPath = `${path}.tmp-${process.pid}`
  const handle = await io.open(temporaryPath, 'w+', mode)
  try {
    try {
      await writeAll(handle, data, 0)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await io.rename(temporaryPath, path)
  } catch (error) {
    // Leave no temp file behind; the original error is what the caller needs to see.
    await io.unlink(temporaryPath).catch(() => undefined)
    throw error
  }
  await io.syncDir(dirname(path))
}

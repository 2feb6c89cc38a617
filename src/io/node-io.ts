// The real Io over node:fs/promises. Every system error becomes a StoreError with the cause kept.
import { readSync, writeSync } from 'node:fs'
import * as fs from 'node:fs/promises'
import { fromSystemError } from '../lib/index.ts'
import type { DirEntry, FileHandle, Io, OpenFlags } from './io.ts'

class NodeFileHandle implements FileHandle {
  readonly path: string
  readonly #handle: fs.FileHandle
  constructor(path: string, handle: fs.FileHandle) {
    this.path = path
    this.#handle = handle
  }
  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    try {
      return (await this.#handle.read(buffer, offset, length, position)).bytesRead
    } catch (error) {
      throw fromSystemError(error, `read ${this.path}`)
    }
  }
  readInline(buffer: Uint8Array, offset: number, length: number, position: number): number {
    try {
      return readSync(this.#handle.fd, buffer, offset, length, position)
    } catch (error) {
      throw fromSystemError(error, `read ${this.path}`)
    }
  }
  writeInline(buffer: Uint8Array, offset: number, length: number, position: number): number {
    try {
      return writeSync(this.#handle.fd, buffer, offset, length, position)
    } catch (error) {
      throw fromSystemError(error, `write ${this.path}`)
    }
  }
  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    try {
      return (await this.#handle.write(buffer, offset, length, position)).bytesWritten
    } catch (error) {
      throw fromSystemError(error, `write ${this.path}`)
    }
  }
  async writev(buffers: readonly Uint8Array[], position: number): Promise<number> {
    try {
      return (await this.#handle.writev(buffers as Uint8Array[], position)).bytesWritten
    } catch (error) {
      throw fromSystemError(error, `write ${this.path}`)
    }
  }
  async sync(): Promise<void> {
    try {
      await this.#handle.sync()
    } catch (error) {
      throw fromSystemError(error, `fsync ${this.path}`)
    }
  }
  async truncate(lengthBytes: number): Promise<void> {
    try {
      await this.#handle.truncate(lengthBytes)
    } catch (error) {
      throw fromSystemError(error, `truncate ${this.path}`)
    }
  }
  async sizeBytes(): Promise<number> {
    try {
      return (await this.#handle.stat()).size
    } catch (error) {
      throw fromSystemError(error, `stat ${this.path}`)
    }
  }
  async close(): Promise<void> {
    try {
      await this.#handle.close()
    } catch (error) {
      throw fromSystemError(error, `close ${this.path}`)
    }
  }
}

export const nodeIo: Io = {
  async open(path: string, flags: OpenFlags, mode = 0o644): Promise<FileHandle> {
    try {
      return new NodeFileHandle(path, await fs.open(path, flags, mode))
    } catch (error) {
      throw fromSystemError(error, `open ${path}`)
    }
  },
  async syncDir(path: string): Promise<void> {
    let handle: fs.FileHandle | undefined
    try {
      handle = await fs.open(path, 'r')
      await handle.sync()
    } catch (error) {
      throw fromSystemError(error, `fsync directory ${path}`)
    } finally {
      await handle?.close()
    }
  },
  async rename(from: string, to: string): Promise<void> {
    try {
      await fs.rename(from, to)
    } catch (error) {
      throw fromSystemError(error, `rename ${from} -> ${to}`)
    }
  },
  async unlink(path: string): Promise<void> {
    try {
      await fs.unlink(path)
    } catch (error) {
      throw fromSystemError(error, `unlink ${path}`)
    }
  },
  async mkdirp(path: string, mode = 0o755): Promise<void> {
    try {
      await fs.mkdir(path, { recursive: true, mode })
    } catch (error) {
      throw fromSystemError(error, `mkdir ${path}`)
    }
  },
  async readdir(path: string): Promise<DirEntry[]> {
    try {
      const entries = await fs.readdir(path, { withFileTypes: true })
      return entries.map((entry) => ({ name: entry.name, isFile: entry.isFile(), isDirectory: entry.isDirectory() }))
    } catch (error) {
      throw fromSystemError(error, `readdir ${path}`)
    }
  },
  async sizeBytesOf(path: string): Promise<number | undefined> {
    try {
      return (await fs.stat(path)).size
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw fromSystemError(error, `stat ${path}`)
    }
  },
  async freeBytes(path: string): Promise<number> {
    try {
      const stats = await fs.statfs(path)
      return stats.bavail * stats.bsize
    } catch (error) {
      throw fromSystemError(error, `statfs ${path}`)
    }
  },
}

// The disk seam. Everything in Cairn that touches files goes through an Io, so a faulty twin
// (faulty.ts) can inject EIO, ENOSPC and short writes in tests. Errors surface as StoreError
// (NO_SPACE, IO_ERROR, NOT_FOUND) with the system error as cause.
//
// Contract: write() may write fewer bytes than asked only when the underlying disk did (the
// real Io loops until done or error); callers use writeAll. Durability is explicit: nothing is
// durable until sync() on the file and, for new or renamed names, syncDir() on the directory.

export type OpenFlags = 'r' | 'r+' | 'wx+' | 'w+'

export interface FileHandle {
  readonly path: string
  /** Read up to length bytes at position into buffer[offset..]; returns bytes read (0 at EOF). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /**
   * read() on the calling thread: blocks the event loop for as long as the disk takes. Only for
   * small reads that are likely in the page cache, through an InlineGate (inline-gate.ts).
   */
  readInline(buffer: Uint8Array, offset: number, length: number, position: number): number
  /** write() on the calling thread (page-cache writes), under the same rule as readInline. */
  writeInline(buffer: Uint8Array, offset: number, length: number, position: number): number
  /** Write buffer[offset..offset+length] at position; returns bytes written. */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /** Write several buffers back to back at position; returns bytes written. */
  writev(buffers: readonly Uint8Array[], position: number): Promise<number>
  sync(): Promise<void>
  truncate(lengthBytes: number): Promise<void>
  sizeBytes(): Promise<number>
  close(): Promise<void>
}

export interface DirEntry {
  name: string
  isFile: boolean
  isDirectory: boolean
}

export interface Io {
  open(path: string, flags: OpenFlags, mode?: number): Promise<FileHandle>
  syncDir(path: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdirp(path: string, mode?: number): Promise<void>
  readdir(path: string): Promise<DirEntry[]>
  /** Size in bytes, or undefined when the path does not exist. */
  sizeBytesOf(path: string): Promise<number | undefined>
  /** Free bytes on the filesystem holding path. */
  freeBytes(path: string): Promise<number>
}

// File handles, file system ids and names.
//
// A handle is 18 bytes: [version 1][the id's 17 hex digits as 9 bytes, a leading 0 nibble]
// [inode number, u64 big-endian]. It is stable across restarts and names one object for good:
// ids are never reused and inode numbers are never reused within a file system, so a handle
// needs no generation. Clients compare handle bytes, so one object has exactly one encoding.
// Never change this layout without a new version byte (clients keep handles across restarts).
import { StoreError, type Random } from '../lib/index.ts'
import { fileLimits } from '../lib/index.ts'
import type { FileHandle, FileSystemId } from './api.ts'

const handleVersion = 1
export const handleBytes = 18
const idPattern = /^fs-[0-9a-f]{17}$/

export function newFileSystemId(random: Random): FileSystemId {
  const hex = random.bytes(9).toString('hex').slice(1)
  return `fs-${hex}` as FileSystemId
}

export function isFileSystemId(text: string): text is FileSystemId {
  return idPattern.test(text)
}

export function encodeHandle(fsId: FileSystemId, inode: number): FileHandle {
  const handle = Buffer.alloc(handleBytes)
  handle[0] = handleVersion
  Buffer.from(`0${fsId.slice(3)}`, 'hex').copy(handle, 1)
  handle.writeBigUInt64BE(BigInt(inode), 10)
  return handle as FileHandle
}

/** INVALID_ARGUMENT when the bytes are not a handle of this layer. */
export function decodeHandle(handle: Buffer): { fsId: FileSystemId; inode: number } {
  if (!Buffer.isBuffer(handle) || handle.length !== handleBytes || handle[0] !== handleVersion || (handle[1] as number) >> 4 !== 0) {
    throw new StoreError('INVALID_ARGUMENT', 'not a file handle of this service')
  }
  const inode = handle.readBigUInt64BE(10)
  if (inode === 0n || inode > BigInt(Number.MAX_SAFE_INTEGER)) throw new StoreError('INVALID_ARGUMENT', 'not a file handle of this service')
  return { fsId: `fs-${handle.subarray(1, 10).toString('hex').slice(1)}` as FileSystemId, inode: Number(inode) }
}

/** File system names: 1..64 of [A-Za-z0-9._-], starting with a letter or digit, not shaped like an id. */
export function checkFileSystemName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > fileLimits.fileSystemNameCharsMax || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new StoreError('INVALID_ARGUMENT', `invalid file system name ${JSON.stringify(name)}: 1..${fileLimits.fileSystemNameCharsMax} letters, digits, '.', '_' or '-', starting with a letter or digit`, { subject: 'filesystem' })
  }
  if (/^fs-[0-9a-f]{8,}$/i.test(name)) {
    throw new StoreError('INVALID_ARGUMENT', `invalid file system name ${JSON.stringify(name)}: names shaped like a file system id are reserved`, { subject: 'filesystem' })
  }
  return name
}

// The files layer's contract with file front-ends (src/nfs): POSIX semantics without NFS.
// The NFS server validates requests at its edge (names, sizes, stateids, export policy), then
// calls these methods; it never touches metadata or chunks itself.
//
// Handles: a FileHandle is opaque, at most nfsLimits.fileHandleMaxBytes, stable across restarts,
// and names (file system, inode, generation). A handle whose inode was deleted (or reused: the
// generation differs) gives NOT_FOUND subject 'inode'; one whose file system was deleted gives
// NOT_FOUND subject 'filesystem'. Both are NFS4ERR_STALE. The same object always has the same
// handle bytes (clients compare them).
//
// Permissions: namespace calls and setAttributes take the Caller (after the front-end applied
// root squash) and enforce POSIX rules (posixAccess below, sticky directories, owner-only chmod).
// read/write/commit do not check: the front-end checks at open (and for anonymous I/O) with
// access(). A read-only file system refuses every change with FileError 'read-only'.
//
// Durability: write() with 'unstable' makes data visible to every reader at once, durable after
// commit() or closeFile() (the last close of an open file flushes it); 'data-sync'/'file-sync'
// writes are durable when they resolve. Namespace changes are durable when they resolve.
// writeVerifier changes whenever unstable writes may have been lost (each process start), so
// NFS clients resend what they had not committed.
//
// Errors are StoreError; FileError adds a POSIX reason where the code alone is ambiguous. The NFS
// server maps them in one switch (src/nfs/v4/errors.ts):
//   NOT_FOUND entry -> NFS4ERR_NOENT          NOT_FOUND inode|filesystem -> NFS4ERR_STALE
//   ALREADY_EXISTS -> NFS4ERR_EXIST           NOT_EMPTY -> NFS4ERR_NOTEMPTY
//   ACCESS_DENIED -> NFS4ERR_ACCESS           NO_SPACE -> NFS4ERR_NOSPC
//   LIMIT_EXCEEDED -> NFS4ERR_DQUOT           INVALID_ARGUMENT, INVALID_RANGE -> NFS4ERR_INVAL
//   PRECONDITION_FAILED -> NFS4ERR_NOT_SAME   (readDirectory: the verifier no longer holds)
//   CONFLICT, LOCKED, INVALID_STATE, CLOSED, ABORTED -> NFS4ERR_DELAY (retry later)
//   IO_ERROR, CHUNK_CORRUPT, CHUNK_MISSING, KEY_UNAVAILABLE, BAD_DIGEST -> NFS4ERR_IO
//   NOT_IMPLEMENTED -> NFS4ERR_NOTSUPP        anything else -> NFS4ERR_SERVERFAULT
//   FileError reasons: not-directory -> NFS4ERR_NOTDIR, is-directory -> NFS4ERR_ISDIR,
//   not-owner -> NFS4ERR_PERM, read-only -> NFS4ERR_ROFS, cross-filesystem -> NFS4ERR_XDEV,
//   too-many-links -> NFS4ERR_MLINK, name-too-long -> NFS4ERR_NAMETOOLONG,
//   invalid-name -> NFS4ERR_BADNAME, file-too-large -> NFS4ERR_FBIG, not-symlink -> NFS4ERR_INVAL.
import { StoreError, type Brand, type StoreErrorCode, type StoreErrorSubject } from '../lib/index.ts'

export type FileHandle = Brand<Buffer, 'FileHandle'>
export type FileSystemId = Brand<string, 'FileSystemId'>
export type FileType = 'regular' | 'directory' | 'symlink'

export interface Timestamp {
  readonly seconds: number
  /** 0..999_999_999 */
  readonly nanoseconds: number
}

export interface FileAttributes {
  readonly type: FileType
  /** Permission bits plus setuid/setgid/sticky: within 0o7777. */
  readonly mode: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly sizeBytes: number
  readonly spaceUsedBytes: number
  /** Inode number: unique in its file system among live inodes. */
  readonly fileId: number
  /** Grows on every change of data or metadata, never goes back (also across restarts). */
  readonly change: bigint
  readonly accessTime: Timestamp
  readonly modifyTime: Timestamp
  /** ctime: the last change of data or metadata. */
  readonly changeTime: Timestamp
  readonly createTime: Timestamp
}

/** Who asks, after root squash. uid 0 is root (bypasses permission bits, not ownership rules for chown targets). */
export interface Caller {
  readonly uid: number
  readonly gid: number
  readonly gids: readonly number[]
}

export interface ExportPolicy {
  readonly readOnly: boolean
  /** uid 0 becomes anonymousUid/anonymousGid (with no supplementary groups). */
  readonly rootSquash: boolean
  readonly anonymousUid: number
  readonly anonymousGid: number
  /** IPv4/IPv6 addresses or CIDR blocks ("10.0.0.0/8", "::1/128"); empty lets every client in. */
  readonly allowedClients: readonly string[]
}

export interface FileSystemInfo {
  readonly id: FileSystemId
  /** Exported at /<name> and /<id>. */
  readonly name: string
  /** Small positive integer, unique among live file systems, stable for their life (NFS fsid). */
  readonly number: number
  readonly rootHandle: FileHandle
  readonly exportPolicy: ExportPolicy
}

export interface FileSystemUsage {
  readonly totalBytes: number
  readonly freeBytes: number
  /** Free bytes this caller may use (quota). */
  readonly availableBytes: number
  readonly totalFiles: number
  readonly freeFiles: number
  readonly availableFiles: number
}

/** 'now' sets the server's clock (NFS SET_TO_SERVER_TIME4). */
export type TimeChange = Timestamp | 'now'

export interface AttributeChanges {
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  /** Truncate or extend (zero-filled, sparse). */
  readonly sizeBytes?: number
  readonly accessTime?: TimeChange
  readonly modifyTime?: TimeChange
}

export interface SetAttributeOptions {
  /** The caller holds the file open for writing (checked by the front-end): size changes skip the permission check. */
  readonly openForWrite?: boolean
  readonly signal?: AbortSignal
}

export type CreateHow =
  /** An existing regular file is returned unchanged (created: false). */
  | { readonly mode: 'unchecked' }
  /** An existing entry -> ALREADY_EXISTS (subject 'entry'). */
  | { readonly mode: 'guarded' }
  /**
   * verifier: 8 bytes kept with the new file until its first setAttributes. An existing file
   * with the same verifier is a retransmission (returned, created: false); any other existing
   * entry -> ALREADY_EXISTS.
   */
  | { readonly mode: 'exclusive'; readonly verifier: Buffer }

export type NewObject =
  | { readonly type: 'regular'; readonly mode: number; readonly how: CreateHow }
  | { readonly type: 'directory'; readonly mode: number }
  | { readonly type: 'symlink'; readonly mode: number; readonly target: string }

/** The directory's change attribute around a namespace change (NFS change_info4). */
export interface DirectoryChange {
  readonly before: bigint
  readonly after: bigint
  /** before/after were read in the same transaction as the change. */
  readonly atomic: boolean
}

export interface Found {
  readonly handle: FileHandle
  readonly attributes: FileAttributes
}

export interface Created extends Found {
  readonly created: boolean
  readonly directory: DirectoryChange
}

export interface DirectoryEntry extends Found {
  readonly name: string
  /** Resume after this entry by passing it as `cookie`; never 0, 1 or 2 (NFS reserves them). */
  readonly cookie: bigint
}

export interface DirectoryPage {
  readonly entries: readonly DirectoryEntry[]
  /** 8 bytes; pass it back with a cookie. Changes only when old cookies stop being valid. */
  readonly verifier: Buffer
  readonly eof: boolean
}

export interface ReadDirectoryOptions {
  /** 0 starts at the beginning. A cookie never given out -> INVALID_RANGE. */
  readonly cookie: bigint
  /** With a non-zero cookie: the page's verifier; a stale one -> PRECONDITION_FAILED. */
  readonly verifier?: Buffer
  /** 1..nfsLimits.readdirEntriesMax; fewer may come back without eof. */
  readonly maxEntries: number
  readonly signal?: AbortSignal
}

export type WriteStability = 'unstable' | 'data-sync' | 'file-sync'

export interface Written {
  /** What the data became: 'unstable' until commit, or durable ('file-sync'). */
  readonly committed: 'unstable' | 'file-sync'
}

export interface FileService {
  /** 8 bytes; see Durability above. */
  readonly writeVerifier: Buffer
  /** Largest file size the service accepts (NFS maxfilesize). */
  readonly maxFileSizeBytes: number

  listFileSystems(signal?: AbortSignal): Promise<FileSystemInfo[]>
  /** By name or id; undefined when there is none. */
  findFileSystem(nameOrId: string, signal?: AbortSignal): Promise<FileSystemInfo | undefined>
  /** The file system a handle belongs to; NOT_FOUND 'filesystem' when it is gone, INVALID_ARGUMENT when the bytes are no handle. */
  fileSystemOf(handle: FileHandle, signal?: AbortSignal): Promise<FileSystemInfo>
  usage(handle: FileHandle, signal?: AbortSignal): Promise<FileSystemUsage>

  getAttributes(handle: FileHandle, signal?: AbortSignal): Promise<FileAttributes>
  setAttributes(caller: Caller, handle: FileHandle, changes: AttributeChanges, options?: SetAttributeOptions): Promise<FileAttributes>

  /** Needs search (x) on the directory. Names are single components: no '/', not '.' or '..'. */
  lookup(caller: Caller, directory: FileHandle, name: string, signal?: AbortSignal): Promise<Found>
  /** The parent directory; the root's parent -> NOT_FOUND 'entry'. */
  lookupParent(caller: Caller, directory: FileHandle, signal?: AbortSignal): Promise<Found>
  /** Needs read on the directory; '.' and '..' are not listed. */
  readDirectory(caller: Caller, directory: FileHandle, options: ReadDirectoryOptions): Promise<DirectoryPage>

  /** Needs write and search on the directory. The owner is the caller (gid: the directory's if it is setgid). */
  create(caller: Caller, directory: FileHandle, name: string, object: NewObject, signal?: AbortSignal): Promise<Created>
  /** Hard link; a directory -> FileError 'is-directory'. */
  link(caller: Caller, file: FileHandle, directory: FileHandle, name: string, signal?: AbortSignal): Promise<{ attributes: FileAttributes; directory: DirectoryChange }>
  /** A non-directory, or an empty directory (else NOT_EMPTY). An open file keeps its data until closeFile. */
  remove(caller: Caller, directory: FileHandle, name: string, signal?: AbortSignal): Promise<DirectoryChange>
  /**
   * Atomic. Replaces an existing target of a compatible type (non-directory over non-directory,
   * directory over empty directory); the same inode on both sides is a no-op. A directory into
   * its own subtree -> INVALID_ARGUMENT.
   */
  rename(caller: Caller, fromDirectory: FileHandle, fromName: string, toDirectory: FileHandle, toName: string, signal?: AbortSignal): Promise<{ from: DirectoryChange; to: DirectoryChange }>
  /** A symlink's target; anything else -> FileError 'not-symlink'. */
  readLink(handle: FileHandle, signal?: AbortSignal): Promise<string>

  /** Up to lengthBytes from offsetBytes (short only at end of file); holes read as zeroes. */
  read(handle: FileHandle, offsetBytes: number, lengthBytes: number, signal?: AbortSignal): Promise<{ data: Buffer; eof: boolean }>
  /**
   * Regular files only ('is-directory' otherwise); extends the file as needed. `data` may be a
   * view into a larger request buffer: copy it if it is kept past the returned promise.
   */
  write(handle: FileHandle, offsetBytes: number, data: Buffer, stability: WriteStability, signal?: AbortSignal): Promise<Written>
  /** Make every unstable write to the file durable. */
  commit(handle: FileHandle, signal?: AbortSignal): Promise<void>

  /** A front-end holds the file open (NFS open state): its data outlives its last link until closeFile. */
  openFile(handle: FileHandle, signal?: AbortSignal): Promise<void>
  /** Pairs with openFile; flushes buffered writes; the last close of an unlinked file frees it. */
  closeFile(handle: FileHandle, signal?: AbortSignal): Promise<void>
}

export type FileErrorReason =
  | 'not-directory' | 'is-directory' | 'not-symlink' | 'not-owner' | 'read-only' | 'cross-filesystem'
  | 'too-many-links' | 'name-too-long' | 'invalid-name' | 'file-too-large'

const reasonCodes: Record<FileErrorReason, [StoreErrorCode, StoreErrorSubject]> = {
  'not-directory': ['INVALID_ARGUMENT', 'inode'],
  'is-directory': ['INVALID_ARGUMENT', 'inode'],
  'not-symlink': ['INVALID_ARGUMENT', 'inode'],
  'not-owner': ['ACCESS_DENIED', 'inode'],
  'read-only': ['ACCESS_DENIED', 'filesystem'],
  'cross-filesystem': ['INVALID_ARGUMENT', 'filesystem'],
  'too-many-links': ['LIMIT_EXCEEDED', 'inode'],
  'name-too-long': ['INVALID_ARGUMENT', 'entry'],
  'invalid-name': ['INVALID_ARGUMENT', 'entry'],
  'file-too-large': ['INVALID_RANGE', 'inode'],
}

/** A StoreError with the POSIX reason front-ends need (ENOTDIR vs EISDIR vs EINVAL...). */
export class FileError extends StoreError {
  readonly reason: FileErrorReason
  constructor(reason: FileErrorReason, message: string, options?: { cause?: unknown }) {
    const [code, subject] = reasonCodes[reason]
    super(code, message, { subject, cause: options?.cause })
    this.name = 'FileError'
    this.reason = reason
  }
}

export interface PosixAccess {
  readonly read: boolean
  readonly write: boolean
  readonly execute: boolean
}

/**
 * The POSIX permission rule every implementation uses: root may read and write anything and
 * execute anything with an x bit (directories: always search); others get the owner, group or
 * other bits, the first class that matches.
 */
export function posixAccess(attributes: Pick<FileAttributes, 'type' | 'mode' | 'uid' | 'gid'>, caller: Caller): PosixAccess {
  const { mode } = attributes
  if (caller.uid === 0) {
    return { read: true, write: true, execute: attributes.type === 'directory' || (mode & 0o111) !== 0 }
  }
  let bits: number
  if (caller.uid === attributes.uid) bits = (mode >> 6) & 7
  else if (caller.gid === attributes.gid || caller.gids.includes(attributes.gid)) bits = (mode >> 3) & 7
  else bits = mode & 7
  return { read: (bits & 4) !== 0, write: (bits & 2) !== 0, execute: (bits & 1) !== 0 }
}

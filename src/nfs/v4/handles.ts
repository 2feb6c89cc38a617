// NFSv4 file handles on the wire: [version 1][kind][files handle]. Kind 0 is the pseudo root (the
// directory that lists exports: PUTROOTFH, and PUTPUBFH too); kind 1 wraps a files-layer handle.
// The layout is part of what clients keep across server restarts: never change it without a new
// version byte (old handles then answer NFS4ERR_BADHANDLE... or, better, keep decoding them).
import { nfsLimits } from '../../lib/index.ts'
import type { FileHandle } from '../../files/api.ts'
import { status } from './constants.ts'
import { nfsError } from './errors.ts'

const handleVersion = 1
const kindPseudoRoot = 0
const kindFile = 1

export type NfsObject =
  | { readonly kind: 'pseudo-root' }
  | { readonly kind: 'file'; readonly handle: FileHandle }

export const pseudoRoot: NfsObject = { kind: 'pseudo-root' }
const pseudoRootBytes = Buffer.from([handleVersion, kindPseudoRoot])

export function encodeHandle(object: NfsObject): Buffer {
  if (object.kind === 'pseudo-root') return pseudoRootBytes
  return Buffer.concat([Buffer.from([handleVersion, kindFile]), object.handle])
}

/** Decode a client's handle; malformed -> NFS4ERR_BADHANDLE. The bytes are copied. */
export function decodeHandle(bytes: Buffer): NfsObject {
  if (bytes.length < 2 || bytes[0] !== handleVersion) nfsError(status.BADHANDLE, 'unknown handle version')
  if (bytes[1] === kindPseudoRoot && bytes.length === 2) return pseudoRoot
  if (bytes[1] === kindFile && bytes.length > 2 && bytes.length - 2 <= nfsLimits.fileHandleMaxBytes) {
    return { kind: 'file', handle: Buffer.from(bytes.subarray(2)) as FileHandle }
  }
  return nfsError(status.BADHANDLE, 'malformed handle')
}

/** A key naming the object in state tables (same object, same key). */
export function objectKey(object: NfsObject): string {
  return object.kind === 'pseudo-root' ? 'pseudo' : object.handle.toString('hex')
}

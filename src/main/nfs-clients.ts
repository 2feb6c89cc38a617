// The NFS server's stable client records (src/nfs/v4/grace.ts) in <data-dir>/nfs-clients.json,
// format in docs/format/nfs-clients.md: which clients may reclaim their state after a restart.
// Written atomically (temp -> fsync -> rename -> fsync dir), so a crash leaves the old set or the
// new one. A missing file is an empty set (first start: no grace period). A file that is not a
// version-1 record set is an error: the server then lets every client reclaim for the whole
// grace period, and the next write replaces the file.
import { join } from 'node:path'
import { readSmallFile, writeFileAtomic, type Io } from '../io/index.ts'
import { nfsLimits, StoreError } from '../lib/index.ts'
import type { NfsClientStore, StoredClient } from '../nfs/index.ts'

export const nfsClientsFileName = 'nfs-clients.json'
const formatVersion = 1

export function fileClientStore(io: Io, dataDir: string): NfsClientStore {
  const path = join(dataDir, nfsClientsFileName)
  return {
    async load() {
      const bytes = await readSmallFile(io, path)
      if (bytes === undefined) return []
      return decodeClients(bytes, path)
    },
    async save(clients) {
      await writeFileAtomic(io, path, encodeClients(clients), 0o600)
    },
  }
}

export function encodeClients(clients: readonly StoredClient[]): Buffer {
  const records = clients.map((client) => ({ minorVersion: client.minorVersion, ownerId: client.ownerId.toString('base64') }))
  return Buffer.from(`${JSON.stringify({ version: formatVersion, clients: records })}\n`)
}

export function decodeClients(bytes: Buffer, where: string): StoredClient[] {
  const corrupt = (why: string): never => {
    throw new StoreError('INVALID_STATE', `${where}: ${why}`, { subject: 'state' })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    return corrupt(`not JSON (${(error as Error).message})`)
  }
  const body = parsed as { version?: unknown; clients?: unknown }
  if (typeof parsed !== 'object' || parsed === null || body.version !== formatVersion) return corrupt(`not a version ${formatVersion} NFS client record set`)
  if (!Array.isArray(body.clients) || body.clients.length > nfsLimits.nfsClientsMax) return corrupt('clients must be a list of at most nfsClientsMax records')
  return body.clients.map((entry: unknown, index: number) => {
    const record = entry as { minorVersion?: unknown; ownerId?: unknown }
    const ownerId = typeof record?.ownerId === 'string' ? Buffer.from(record.ownerId, 'base64') : undefined
    if ((record?.minorVersion !== 0 && record?.minorVersion !== 1) || ownerId === undefined || ownerId.length === 0 || ownerId.length > nfsLimits.nfsOpaqueMaxBytes) {
      return corrupt(`record ${index} is not { minorVersion: 0|1, ownerId: base64 of 1..${nfsLimits.nfsOpaqueMaxBytes} bytes }`)
    }
    return { minorVersion: record.minorVersion, ownerId }
  })
}

// The NFS front-end: NFSv4.0/4.1 over ONC RPC on top of a FileService (src/files/api.ts).
export { startNfsServer, type NfsServer, type NfsServerOptions, type NfsStats } from './server.ts'
export type { NfsLogger } from './log.ts'
export type { NfsClientStore, StoredClient } from './v4/grace.ts'

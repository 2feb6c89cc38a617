// The NBD front-end: serves ExportProvider exports (src/volumes/api.ts) to NBD clients.
export { startNbdServer, type NbdServer, type NbdServerAddresses, type NbdServerOptions, type NbdTlsOptions } from './server.ts'
export type { NbdLimits, NbdLogger } from './session.ts'
export { nbdErrnoFor, optionErrorFor } from './errors.ts'

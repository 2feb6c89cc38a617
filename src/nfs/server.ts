// The NFS server: ONC RPC over TCP serving NFSv4.0 and 4.1 (program 100003, version 4: NULL and
// COMPOUND) on top of a FileService. No portmapper, no MOUNT protocol: NFSv4 clients connect to
// the port directly and walk the pseudo root (/<file system name>).
//
// Owns the protocol state (clients, opens, locks, sessions) in memory, a timer that expires
// clients whose lease lapsed, and the grace period after start. Never touches storage itself.
import { nfsLimits, systemClock, systemRandom, type Clock, type Random } from '../lib/index.ts'
import type { FileService } from '../files/api.ts'
import { silentNfsLogger, type NfsLogger } from './log.ts'
import { acceptStat } from './rpc-message.ts'
import { RpcAcceptError, startRpcServer, type RpcProgram } from './rpc.ts'
import { compoundProcedure, nfsProgram, nfsVersion4 } from './v4/constants.ts'
import { handleCompound } from './v4/compound.ts'
import type { NfsServerContext } from './v4/context.ts'
import { GracePeriod, type NfsClientStore } from './v4/grace.ts'
import { StateManager } from './v4/state.ts'

export interface NfsServerOptions {
  readonly files: FileService
  /** Default 127.0.0.1:2049; port 0 picks a free port (tests). */
  readonly address?: { readonly host: string; readonly port: number }
  readonly logger?: NfsLogger
  readonly clock?: Clock
  readonly random?: Random
  /** Client lease (NFS lease_time); default nfsLimits.leaseMsDefault. */
  readonly leaseMs?: number
  /**
   * Reclaim-only period after start; default the lease. It ends early when no client was
   * recorded in clientStore, or when every recorded client sent RECLAIM_COMPLETE. Tests use 0.
   */
  readonly graceMs?: number
  /** Client records kept across restarts (see v4/grace.ts); absent: any client may reclaim during the grace period. */
  readonly clientStore?: NfsClientStore
  /** A bug surfaced in a request: main logs it and exits. */
  readonly onBug?: (error: Error) => void
  /** EXCHANGE_ID server owner / scope: the same for every instance serving the same data. */
  readonly serverOwner?: string
}

/** Numbers for /metrics, read at scrape time. */
export interface NfsStats {
  readonly clients: number
  /** Open and lock stateids. */
  readonly states: number
  readonly sessions: number
  readonly graceActive: boolean
}

export interface NfsServer {
  readonly host: string
  readonly port: number
  stats(): NfsStats
  /** For tests and metrics: the protocol state. */
  readonly state: StateManager
  /** Stop accepting, let in-flight requests finish for graceMs, then cut connections. */
  close(graceMs?: number): Promise<void>
}

export async function startNfsServer(options: NfsServerOptions): Promise<NfsServer> {
  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const logger = options.logger ?? silentNfsLogger
  const leaseMs = options.leaseMs ?? nfsLimits.leaseMsDefault
  const startedMs = clock.nowMs()
  const files = options.files
  let grace: GracePeriod | undefined
  const state = new StateManager({
    clock, leaseMs, bootId: random.bytes(4).readUInt32BE(0),
    onOpenReleased: (open) => {
      files.closeFile(open.object.handle).catch((error: unknown) => logger.warn({ err: error }, 'closing an expired open failed'))
    },
    onClientRemoved: () => grace?.removed(),
  })
  grace = await GracePeriod.open({
    clock, logger, startedMs, graceMs: options.graceMs ?? leaseMs, store: options.clientStore, confirmedClients: () => state.confirmedClients(),
  })
  const context: NfsServerContext = {
    files, state, logger, clock, random, startedMs, grace,
    leaseSeconds: Math.max(1, Math.round(leaseMs / 1000)),
    serverOwner: Buffer.from(options.serverOwner ?? 'cairn'),
  }
  const program: RpcProgram = {
    program: nfsProgram,
    versionLow: nfsVersion4,
    versionHigh: nfsVersion4,
    async handle(call) {
      if (call.procedure !== compoundProcedure) throw new RpcAcceptError(acceptStat.procUnavail, `NFSv4 has no procedure ${call.procedure}`)
      return handleCompound(context, call)
    },
  }
  const address = options.address ?? { host: '127.0.0.1', port: 2049 }
  const rpc = await startRpcServer({ programs: [program], logger, onBug: options.onBug }, address.host, address.port)
  // Expire lapsed leases: clients get half a lease of slack for network delays.
  const sweepMs = Math.max(250, Math.min(leaseMs / 4, 10_000))
  const sweeper = setInterval(() => {
    const expired = state.expire(leaseMs / 2)
    if (expired > 0) logger.info({ expired }, 'NFS client leases expired')
  }, sweepMs)
  sweeper.unref()
  logger.info({ host: rpc.address, port: rpc.port, leaseMs }, 'NFS server listening')
  return {
    host: rpc.address,
    port: rpc.port,
    state,
    stats: () => ({ clients: state.clientCount, states: state.stateCount, sessions: state.sessionsById.size, graceActive: grace.active }),
    async close(graceMs) {
      clearInterval(sweeper)
      await rpc.close(graceMs)
      await grace.idle()
    },
  }
}

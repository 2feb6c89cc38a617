// Stable client records and the grace period after a start (RFC 7530 section 9.6.3.4, RFC 8881
// section 8.4.2.1). The server keeps, in a store main/ provides, the identity (client owner id and
// minor version) of every confirmed client. After a restart those clients may reclaim their opens
// and locks (CLAIM_PREVIOUS, LOCK with reclaim) while every other OPEN and LOCK waits
// (NFS4ERR_GRACE); a client the store does not know gets NFS4ERR_NO_GRACE for a reclaim, so it
// cannot take back state that somebody else may have been granted meanwhile.
//
// The grace period ends at graceMs after the start, or earlier: at once when no client was
// recorded (nothing to reclaim: a first start never makes clients wait), or as soon as every
// recorded client has sent RECLAIM_COMPLETE (4.0 clients have no such operation, so a recorded
// 4.0 client keeps the period to its end). A store that cannot be read lets every client reclaim
// for the whole period, as a server without records would.
//
// Records are written before SETCLIENTID_CONFIRM / CREATE_SESSION answer, so a client that got
// state is always recorded; expired and destroyed clients are dropped by a later write, and
// recorded clients that did not come back are dropped when the period ends. Writes are
// serialized; each writes the whole set (a few thousand entries at most: nfsClientsMax).
// Never: await anything from inside a check (callers check and act without yielding).
import type { Clock } from '../../lib/index.ts'
import type { NfsLogger } from '../log.ts'
import { status } from './constants.ts'
import { nfsError } from './errors.ts'
import type { Client } from './state.ts'

export interface StoredClient {
  readonly minorVersion: number
  /** nfs_client_id4.id / client_owner4.co_ownerid: the client's stable name. */
  readonly ownerId: Buffer
}

/** Where client records live across restarts (main/ keeps them in the data dir). */
export interface NfsClientStore {
  /** The clients recorded by the previous run; throws if the records cannot be read. */
  load(): Promise<StoredClient[]>
  /** Replace the records with these, durably. */
  save(clients: readonly StoredClient[]): Promise<void>
}

export interface GraceOptions {
  readonly clock: Clock
  readonly logger: NfsLogger
  readonly startedMs: number
  readonly graceMs: number
  /** Absent: nothing is recorded and every client may reclaim during the whole period (tests). */
  readonly store?: NfsClientStore
  /** The confirmed clients now (from the state manager), for writing the records. */
  readonly confirmedClients: () => Iterable<Client>
}

const keyOf = (minorVersion: number, ownerId: Buffer): string => `${minorVersion}:${ownerId.toString('hex')}`

export class GracePeriod {
  readonly #options: GraceOptions
  #untilMs: number
  /** Recorded by the previous run -> has sent RECLAIM_COMPLETE; undefined: unknown (anyone may reclaim). */
  #reclaimable: Map<string, { record: StoredClient; completed: boolean }> | undefined
  #saving: Promise<void> | undefined
  #dirty = false

  private constructor(options: GraceOptions, previous: StoredClient[] | undefined) {
    this.#options = options
    this.#untilMs = options.startedMs + options.graceMs
    if (previous !== undefined) {
      this.#reclaimable = new Map(previous.map((record) => [keyOf(record.minorVersion, record.ownerId), { record, completed: false }]))
      if (this.#reclaimable.size === 0) this.#untilMs = options.startedMs
    }
  }

  static async open(options: GraceOptions): Promise<GracePeriod> {
    if (options.store === undefined) return new GracePeriod(options, undefined)
    let previous: StoredClient[] | undefined
    try {
      previous = await options.store.load()
    } catch (error) {
      options.logger.warn({ err: error }, 'NFS client records unreadable: every client may reclaim during the grace period')
    }
    const grace = new GracePeriod(options, previous)
    if (previous !== undefined) {
      options.logger.info({ recordedClients: previous.length, graceMs: grace.#untilMs - options.startedMs }, previous.length === 0 ? 'no NFS client to reclaim state: no grace period' : 'NFS grace period: recorded clients may reclaim their state')
    }
    return grace
  }

  /** True while only reclaims are accepted. */
  get active(): boolean {
    if (this.#options.clock.nowMs() < this.#untilMs) return true
    if (this.#reclaimable !== undefined && this.#reclaimable.size > 0) this.#end('the grace period is over')
    return false
  }

  /** OPEN and LOCK: a reclaim outside the period (or from a client unknown to it) -> NO_GRACE; anything else inside it -> GRACE. */
  check(client: Client, reclaim: boolean): void {
    const active = this.active
    if (reclaim) {
      if (!active || client.reclaimComplete) nfsError(status.NO_GRACE, 'not in the grace period')
      const known = this.#reclaimable === undefined || this.#reclaimable.has(keyOf(client.minorVersion, client.ownerId))
      if (!known) nfsError(status.NO_GRACE, 'this client held no state before the restart')
      return
    }
    if (active) nfsError(status.GRACE, 'in the grace period')
  }

  /** A client was confirmed: record it before the confirming operation answers. */
  async confirmed(): Promise<void> {
    await this.#persist()
  }

  /** A client went away (expired, destroyed, replaced): drop its record soon. */
  removed(): void {
    void this.#persist()
  }

  /** 4.1 RECLAIM_COMPLETE: once every recorded client has sent it, the period ends. */
  reclaimCompleted(client: Client): void {
    const entry = this.#reclaimable?.get(keyOf(client.minorVersion, client.ownerId))
    if (entry === undefined || entry.completed) return
    entry.completed = true
    if (this.#options.clock.nowMs() >= this.#untilMs) return
    if ([...(this.#reclaimable?.values() ?? [])].every((other) => other.completed)) {
      this.#untilMs = this.#options.clock.nowMs()
      this.#end('every recorded client completed its reclaim')
    }
  }

  /** Resolves when the last record write finished. */
  async idle(): Promise<void> {
    await this.#saving
  }

  #end(reason: string): void {
    this.#reclaimable = new Map()
    this.#options.logger.info({ reason }, 'NFS grace period ended')
    void this.#persist()
  }

  /** The records to keep: confirmed clients now, plus, during the period, recorded ones that may still come back. */
  #records(): StoredClient[] {
    const records = new Map<string, StoredClient>()
    for (const client of this.#options.confirmedClients()) {
      records.set(keyOf(client.minorVersion, client.ownerId), { minorVersion: client.minorVersion, ownerId: client.ownerId })
    }
    if (this.#options.clock.nowMs() < this.#untilMs) {
      for (const [key, { record }] of this.#reclaimable ?? []) if (!records.has(key)) records.set(key, record)
    }
    return [...records.values()]
  }

  #persist(): Promise<void> {
    const store = this.#options.store
    if (store === undefined) return Promise.resolve()
    this.#dirty = true
    this.#saving ??= (async () => {
      try {
        while (this.#dirty) {
          this.#dirty = false
          await store.save(this.#records())
        }
      } catch (error) {
        this.#options.logger.error({ err: error }, 'writing NFS client records failed; clients may be refused reclaims after a restart')
      } finally {
        this.#saving = undefined
      }
    })()
    return this.#saving
  }
}

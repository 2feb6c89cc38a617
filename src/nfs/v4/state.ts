// NFSv4 protocol state, held in memory: client records (4.0 SETCLIENTID and 4.1 EXCHANGE_ID),
// open and lock owners with their seqids, open and lock stateids, byte-range locks, sessions,
// and lease expiry.
//
// Invariants: one open stateid per (open owner, file) and one lock stateid per (lock owner,
// file); a lock state belongs to exactly one open state; every lock range belongs to a live lock
// state. An expired or replaced client leaves nothing behind: its locks are released, its opens
// closed (onOpenReleased lets the files layer drop its open count), its sessions forgotten.
// Stateid `other` is [boot id u32][counter u64]: ids from an earlier server instance are STALE.
// Nothing here awaits: every method runs to completion, so callers can check and then change.
import { assert, nfsLimits, type Clock } from '../../lib/index.ts'
import { KeyedMutex } from '../mutex.ts'
import { status, stateidOtherBytes } from './constants.ts'
import { nfsError } from './errors.ts'
import type { NfsObject } from './handles.ts'
import { FileLocks, type LockKind, type LockRange } from './locks.ts'
import type { Session } from './sessions.ts'

export interface Stateid {
  readonly seqid: number
  readonly other: Buffer
}

/** The last seqid-mutating reply of an owner (NFSv4.0 replays it for a retransmission). */
export interface Replay {
  readonly seqid: number
  readonly op: number
  readonly status: number
  /** The encoded result after the status. */
  readonly body: Buffer
  /** The current filehandle the operation left (OPEN sets it). */
  readonly current: unknown
}

export interface SeqidOwner {
  seqid: number | undefined
  replay: Replay | undefined
}

export interface Client {
  readonly clientId: bigint
  readonly ownerId: Buffer
  readonly verifier: Buffer
  readonly minorVersion: number
  confirmed: boolean
  confirmVerifier: Buffer
  /** A SETCLIENTID from the confirmed client with its own verifier (callback update) awaiting confirm. */
  pendingConfirmVerifier: Buffer | undefined
  lastRenewMs: number
  readonly openOwners: Map<string, OpenOwner>
  readonly lockOwners: Map<string, LockOwner>
  readonly states: Set<OpenState | LockState>
  readonly sessions: Set<Session>
  /** 4.1: the CREATE_SESSION sequence and the reply to the last one (replayed on retransmission). */
  createSessionSequence: number
  createSessionReply: Buffer | undefined
  reclaimComplete: boolean
}

export interface OpenOwner extends SeqidOwner {
  readonly key: string
  readonly client: Client
  readonly owner: Buffer
  confirmed: boolean
  readonly opens: Set<OpenState>
}

export interface LockOwner extends SeqidOwner {
  readonly key: string
  readonly client: Client
  readonly owner: Buffer
  readonly locks: Set<LockState>
}

export interface OpenState {
  readonly kind: 'open'
  readonly other: Buffer
  seqid: number
  readonly owner: OpenOwner
  readonly object: Extract<NfsObject, { kind: 'file' }>
  readonly fileKey: string
  access: number
  deny: number
  readonly locks: Set<LockState>
}

export interface LockState {
  readonly kind: 'lock'
  readonly other: Buffer
  seqid: number
  readonly owner: LockOwner
  readonly open: OpenState
  readonly fileKey: string
}

export type State = OpenState | LockState

export interface LockDenied {
  readonly range: LockRange<LockOwner>
}

export interface StateManagerOptions {
  readonly clock: Clock
  readonly leaseMs: number
  /** Distinguishes this server instance's ids from earlier ones (seconds at start works). */
  readonly bootId: number
  /** Called for each open state that goes away without CLOSE (expiry, replaced client). */
  readonly onOpenReleased: (state: OpenState) => void
  /** Called when a confirmed client goes away (expiry, DESTROY_CLIENTID, replaced by its reboot). */
  readonly onClientRemoved?: (client: Client) => void
}

const recentlyClosedMax = 4096
const anonymousOther = Buffer.alloc(stateidOtherBytes, 0)
const bypassOther = Buffer.alloc(stateidOtherBytes, 0xff)

export type SpecialStateid = 'anonymous' | 'bypass' | 'current' | 'invalid'

export function specialStateid(stateid: Stateid): SpecialStateid | undefined {
  if (stateid.other.equals(anonymousOther)) {
    if (stateid.seqid === 0) return 'anonymous'
    if (stateid.seqid === 1) return 'current'
    return 'invalid'
  }
  if (stateid.other.equals(bypassOther)) return stateid.seqid === 0xffff_ffff ? 'bypass' : 'invalid'
  return undefined
}

/** The next seqid of a stateid: never 0 (4.1 reserves it), wraps past 2^32-1. */
export const nextSeqid = (seqid: number): number => (seqid >= 0xffff_ffff ? 1 : seqid + 1)

export class StateManager {
  readonly leaseMs: number
  readonly bootId: number
  /** Serializes seqid-ordered operations of one owner (and retransmissions of them). */
  readonly ownerMutex = new KeyedMutex()
  readonly sessionsById = new Map<string, Session>()
  readonly #clock: Clock
  readonly #onOpenReleased: (state: OpenState) => void
  readonly #onClientRemoved: ((client: Client) => void) | undefined
  readonly #clients = new Map<bigint, Client>()
  readonly #states = new Map<string, State>()
  readonly #fileOpens = new Map<string, Set<OpenState>>()
  readonly #fileLocks = new Map<string, FileLocks<LockOwner>>()
  /** Owners of recently closed opens, so a retransmitted CLOSE finds its replay (bounded). */
  readonly #closedOwners = new Map<string, OpenOwner>()
  #nextClient = 1
  #nextState = 1n

  constructor(options: StateManagerOptions) {
    assert(options.leaseMs >= nfsLimits.leaseMsMin, 'lease is long enough')
    this.leaseMs = options.leaseMs
    this.bootId = options.bootId >>> 0
    this.#clock = options.clock
    this.#onOpenReleased = options.onOpenReleased
    this.#onClientRemoved = options.onClientRemoved
  }

  get clientCount(): number {
    return this.#clients.size
  }

  /** Open and lock stateids held by all clients. */
  get stateCount(): number {
    return this.#states.size
  }

  nowMs(): number {
    return this.#clock.nowMs()
  }

  // ---- clients

  newClient(ownerId: Buffer, verifier: Buffer, minorVersion: number, confirmVerifier: Buffer): Client {
    if (this.#clients.size >= nfsLimits.nfsClientsMax) nfsError(minorVersion === 0 ? status.RESOURCE : status.DELAY, 'too many clients')
    const clientId = (BigInt(this.bootId) << 32n) | BigInt(this.#nextClient++ >>> 0)
    const client: Client = {
      clientId, ownerId: Buffer.from(ownerId), verifier: Buffer.from(verifier), minorVersion, confirmed: false,
      confirmVerifier, pendingConfirmVerifier: undefined, lastRenewMs: this.nowMs(), openOwners: new Map(),
      lockOwners: new Map(), states: new Set(), sessions: new Set(), createSessionSequence: 1,
      createSessionReply: undefined, reclaimComplete: false,
    }
    this.#clients.set(clientId, client)
    return client
  }

  /** Client records with this owner id (at most one confirmed, one unconfirmed). */
  clientsOf(ownerId: Buffer, minorVersion: number): { confirmed: Client | undefined; unconfirmed: Client | undefined } {
    let confirmed: Client | undefined
    let unconfirmed: Client | undefined
    for (const client of this.#clients.values()) {
      if (client.minorVersion !== minorVersion || !client.ownerId.equals(ownerId)) continue
      if (client.confirmed) confirmed = client
      else unconfirmed = client
    }
    return { confirmed, unconfirmed }
  }

  /** A known client; unknown or from an earlier boot -> STALE_CLIENTID. */
  client(clientId: bigint): Client {
    const client = this.#clients.get(clientId)
    if (client === undefined) return nfsError(status.STALE_CLIENTID, 'unknown client id')
    return client
  }

  *confirmedClients(): Iterable<Client> {
    for (const client of this.#clients.values()) if (client.confirmed) yield client
  }

  findClient(clientId: bigint): Client | undefined {
    return this.#clients.get(clientId)
  }

  renew(client: Client): void {
    client.lastRenewMs = this.nowMs()
  }

  /** Mark confirmed; any other confirmed record of the same owner (a rebooted client) goes away. */
  confirm(client: Client): void {
    for (const other of this.#clients.values()) {
      if (other !== client && other.confirmed && other.minorVersion === client.minorVersion && other.ownerId.equals(client.ownerId)) {
        this.removeClient(other)
      }
    }
    client.confirmed = true
    this.renew(client)
  }

  /** Drop a client and everything it holds. */
  removeClient(client: Client): void {
    for (const state of [...client.states]) {
      if (state.kind === 'open') this.#dropOpen(state, true)
    }
    for (const session of client.sessions) this.sessionsById.delete(session.idKey)
    client.sessions.clear()
    this.#clients.delete(client.clientId)
    if (client.confirmed) this.#onClientRemoved?.(client)
  }

  /** Expire clients whose lease lapsed more than slackMs ago; returns how many. */
  expire(slackMs: number): number {
    const cutoff = this.nowMs() - this.leaseMs - slackMs
    let expired = 0
    for (const client of [...this.#clients.values()]) {
      if (client.lastRenewMs < cutoff) {
        this.removeClient(client)
        expired += 1
      }
    }
    return expired
  }

  // ---- owners

  openOwner(client: Client, owner: Buffer): OpenOwner | undefined {
    return client.openOwners.get(owner.toString('hex'))
  }

  newOpenOwner(client: Client, owner: Buffer): OpenOwner {
    this.#checkRoom(client)
    const key = owner.toString('hex')
    const created: OpenOwner = { key, client, owner: Buffer.from(owner), seqid: undefined, replay: undefined, confirmed: client.minorVersion > 0, opens: new Set() }
    client.openOwners.set(key, created)
    return created
  }

  /** Forget an open owner that holds no opens (an unconfirmed 4.0 owner being replaced). */
  dropOpenOwner(owner: OpenOwner): void {
    for (const open of [...owner.opens]) this.#dropOpen(open, true)
    owner.client.openOwners.delete(owner.key)
  }

  lockOwner(client: Client, owner: Buffer): LockOwner | undefined {
    return client.lockOwners.get(owner.toString('hex'))
  }

  newLockOwner(client: Client, owner: Buffer): LockOwner {
    this.#checkRoom(client)
    const key = owner.toString('hex')
    const created: LockOwner = { key, client, owner: Buffer.from(owner), seqid: undefined, replay: undefined, locks: new Set() }
    client.lockOwners.set(key, created)
    return created
  }

  #checkRoom(client: Client): void {
    const used = client.openOwners.size + client.lockOwners.size + client.states.size
    if (used >= nfsLimits.nfsStatesPerClientMax) nfsError(client.minorVersion === 0 ? status.RESOURCE : status.DELAY, 'too much state for one client')
  }

  // ---- stateids

  #newOther(): Buffer {
    const other = Buffer.alloc(stateidOtherBytes)
    other.writeUInt32BE(this.bootId, 0)
    other.writeBigUInt64BE(this.#nextState++, 4)
    return other
  }

  /**
   * The state a (non-special) stateid names, checked against the current file: an earlier boot ->
   * STALE_STATEID; unknown or another file -> BAD_STATEID; seqid ahead -> BAD_STATEID, behind ->
   * OLD_STATEID (4.1 seqid 0 means "current"). Renews the client's lease.
   */
  resolve(stateid: Stateid, minorVersion: number, fileKey: string | undefined): State {
    if (stateid.other.readUInt32BE(0) !== this.bootId) nfsError(status.STALE_STATEID, 'stateid from an earlier server instance')
    const state = this.#states.get(stateid.other.toString('hex'))
    if (state === undefined) return nfsError(status.BAD_STATEID, 'unknown stateid')
    if (fileKey !== undefined && state.fileKey !== fileKey) nfsError(status.BAD_STATEID, 'stateid is for another file')
    if (!(minorVersion > 0 && stateid.seqid === 0)) {
      if (stateid.seqid > state.seqid) nfsError(status.BAD_STATEID, 'stateid seqid from the future')
      if (stateid.seqid < state.seqid) nfsError(status.OLD_STATEID, 'stateid seqid is old')
    }
    this.renew(state.owner.client)
    return state
  }

  /** The state without seqid checks (TEST_STATEID, FREE_STATEID), or undefined. */
  lookup(other: Buffer): State | undefined {
    return this.#states.get(other.toString('hex'))
  }

  // ---- opens and share reservations

  findOpen(owner: OpenOwner, fileKey: string): OpenState | undefined {
    for (const open of owner.opens) if (open.fileKey === fileKey) return open
    return undefined
  }

  /** SHARE_DENIED when another owner's open denies what we want or wants what we deny. */
  checkShare(fileKey: string, access: number, deny: number, self: OpenState | undefined): void {
    for (const open of this.#fileOpens.get(fileKey) ?? []) {
      if (open === self) continue
      if ((open.deny & access) !== 0 || (open.access & deny) !== 0) nfsError(status.SHARE_DENIED, 'share reservation conflict')
    }
  }

  /** Share deny bits held on a file by anyone (anonymous I/O must respect them). */
  deniedOn(fileKey: string): number {
    let deny = 0
    for (const open of this.#fileOpens.get(fileKey) ?? []) deny |= open.deny
    return deny
  }

  newOpen(owner: OpenOwner, object: OpenState['object'], fileKey: string, access: number, deny: number): OpenState {
    this.#checkRoom(owner.client)
    const open: OpenState = { kind: 'open', other: this.#newOther(), seqid: 1, owner, object, fileKey, access, deny, locks: new Set() }
    this.#states.set(open.other.toString('hex'), open)
    owner.opens.add(open)
    owner.client.states.add(open)
    const opens = this.#fileOpens.get(fileKey) ?? new Set()
    opens.add(open)
    this.#fileOpens.set(fileKey, opens)
    return open
  }

  /** CLOSE: LOCKS_HELD while any lock owner still holds ranges through this open. */
  close(open: OpenState): void {
    const locks = this.#fileLocks.get(open.fileKey)
    for (const lock of open.locks) if (locks?.holds(lock.owner)) nfsError(status.LOCKS_HELD, 'locks are still held')
    this.#dropOpen(open, false)
    this.#closedOwners.set(open.other.toString('hex'), open.owner)
    if (this.#closedOwners.size > recentlyClosedMax) this.#closedOwners.delete(this.#closedOwners.keys().next().value as string)
  }

  /** The owner of an open closed recently (CLOSE retransmissions); undefined when forgotten. */
  closedOwner(other: Buffer): OpenOwner | undefined {
    const owner = this.#closedOwners.get(other.toString('hex'))
    return owner !== undefined && owner.client.openOwners.get(owner.key) === owner ? owner : undefined
  }

  #dropOpen(open: OpenState, notify: boolean): void {
    const locks = this.#fileLocks.get(open.fileKey)
    for (const lock of [...open.locks]) {
      locks?.release(lock.owner)
      this.#dropLockState(lock)
    }
    if (locks?.size === 0) this.#fileLocks.delete(open.fileKey)
    this.#states.delete(open.other.toString('hex'))
    open.owner.opens.delete(open)
    open.owner.client.states.delete(open)
    const opens = this.#fileOpens.get(open.fileKey)
    opens?.delete(open)
    if (opens?.size === 0) this.#fileOpens.delete(open.fileKey)
    if (notify) this.#onOpenReleased(open)
  }

  // ---- byte-range locks

  lockStateFor(owner: LockOwner, open: OpenState): LockState {
    for (const lock of owner.locks) if (lock.fileKey === open.fileKey) return lock
    this.#checkRoom(owner.client)
    const lock: LockState = { kind: 'lock', other: this.#newOther(), seqid: 0, owner, open, fileKey: open.fileKey }
    this.#states.set(lock.other.toString('hex'), lock)
    owner.locks.add(lock)
    open.locks.add(lock)
    owner.client.states.add(lock)
    return lock
  }

  /** A conflicting range held by another owner, if any (LOCKT, and LOCK before it locks). */
  conflict(fileKey: string, client: Client, owner: Buffer, kind: LockKind, start: bigint, end: bigint): LockRange<LockOwner> | undefined {
    const probe = this.lockOwner(client, owner)
    const locks = this.#fileLocks.get(fileKey)
    if (locks === undefined) return undefined
    return locks.conflict(probe as LockOwner, kind, start, end, (a, b) => a === b || (a.client === b?.client && a.owner.equals(b.owner)))
  }

  lock(lock: LockState, kind: LockKind, start: bigint, end: bigint): LockRange<LockOwner> | undefined {
    const locks = this.#fileLocks.get(lock.fileKey) ?? new FileLocks<LockOwner>()
    const conflict = locks.conflict(lock.owner, kind, start, end)
    if (conflict !== undefined) return conflict
    if (locks.size >= nfsLimits.nfsLocksPerFileMax) nfsError(lock.owner.client.minorVersion === 0 ? status.RESOURCE : status.DELAY, 'too many locks on one file')
    locks.lock(lock.owner, kind, start, end)
    this.#fileLocks.set(lock.fileKey, locks)
    return undefined
  }

  unlock(lock: LockState, start: bigint, end: bigint): void {
    const locks = this.#fileLocks.get(lock.fileKey)
    locks?.unlock(lock.owner, start, end)
    if (locks?.size === 0) this.#fileLocks.delete(lock.fileKey)
  }

  holdsLocks(owner: LockOwner): boolean {
    for (const lock of owner.locks) if (this.#fileLocks.get(lock.fileKey)?.holds(owner)) return true
    return false
  }

  /** RELEASE_LOCKOWNER / FREE_STATEID of a lock state: only when no ranges are held. */
  releaseLockOwner(owner: LockOwner): void {
    if (this.holdsLocks(owner)) nfsError(status.LOCKS_HELD, 'the lock owner still holds locks')
    for (const lock of [...owner.locks]) this.#dropLockState(lock)
    owner.client.lockOwners.delete(owner.key)
  }

  freeLockState(lock: LockState): void {
    if (this.#fileLocks.get(lock.fileKey)?.holds(lock.owner)) nfsError(status.LOCKS_HELD, 'the lock stateid still holds locks')
    this.#dropLockState(lock)
  }

  #dropLockState(lock: LockState): void {
    this.#states.delete(lock.other.toString('hex'))
    lock.owner.locks.delete(lock)
    lock.open.locks.delete(lock)
    lock.owner.client.states.delete(lock)
  }
}

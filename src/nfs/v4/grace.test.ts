// The grace period with stable client records (grace.ts): a restart lets recorded clients
// reclaim and nobody else; a first start (nothing recorded) has no grace period at all; 4.1
// RECLAIM_COMPLETE from every recorded client ends it early; a 4.0 client keeps it to its end;
// clients that did not come back are dropped from the records afterwards.
import t, { type Test } from 'tap'
import { ManualClock } from '../../lib/index.ts'
import { silentNfsLogger } from '../log.ts'
import { startNfsServer, type NfsServer } from '../server.ts'
import { MemoryFileService } from '../testing/memory-fs.ts'
import { NfsTestClient, ops, type Stateid } from '../testing/nfs-client.ts'
import { status } from './constants.ts'
import type { NfsClientStore, StoredClient } from './grace.ts'

class MemoryClientStore implements NfsClientStore {
  records: StoredClient[] = []
  saves = 0
  failLoad = false
  async load(): Promise<StoredClient[]> {
    if (this.failLoad) throw new Error('unreadable')
    return this.records.map((record) => ({ ...record, ownerId: Buffer.from(record.ownerId) }))
  }
  async save(clients: readonly StoredClient[]): Promise<void> {
    this.saves++
    this.records = clients.map((record) => ({ ...record, ownerId: Buffer.from(record.ownerId) }))
  }
  names(): string[] {
    return this.records.map((record) => `${record.minorVersion}:${record.ownerId.toString()}`).sort()
  }
}

function world(t: Test) {
  const files = new MemoryFileService({ fileSystems: [{ name: 'export' }] })
  const store = new MemoryClientStore()
  const clock = new ManualClock(Date.now())
  const servers: NfsServer[] = []
  const clients: NfsTestClient[] = []
  t.teardown(async () => {
    for (const client of clients) await client.close().catch(() => {})
    for (const server of servers) await server.close(50)
  })
  const start = async (graceMs: number) => {
    const server = await startNfsServer({ files, clock, clientStore: store, address: { host: '127.0.0.1', port: 0 }, logger: silentNfsLogger, graceMs, onBug: (error) => t.fail(`bug: ${error.stack}`) })
    servers.push(server)
    return server
  }
  const connect = async (server: NfsServer, minorVersion: number) => {
    const client = await NfsTestClient.connect(server.port, minorVersion)
    clients.push(client)
    return client
  }
  return { files, store, clock, start, connect }
}

/** EXCHANGE_ID + CREATE_SESSION without RECLAIM_COMPLETE (establish() sends it). */
async function session41(client: NfsTestClient, name: string): Promise<bigint> {
  const [exchange] = await client.ok([ops.exchangeId(Buffer.from('verifier'), Buffer.from(name))]) as [{ clientId: bigint; sequenceId: number }]
  const [session] = await client.ok([ops.createSession(exchange.clientId, exchange.sequenceId)]) as [{ sessionId: Buffer }]
  client.session = { id: session.sessionId, sequences: [] }
  client.clientId = exchange.clientId
  return exchange.clientId
}

async function rootOf(client: NfsTestClient): Promise<Buffer> {
  return (await client.ok([ops.putrootfh(), ops.lookup('export'), ops.getfh()])).at(-1) as Buffer
}

const createOpen = (clientId: bigint, owner: string, name: string, seqid = 0) =>
  ops.open({ seqid, clientId, owner: Buffer.from(owner), claim: { type: 'null', name }, create: { mode: 'unchecked' } })
const reclaimOpen = (clientId: bigint, owner: string, seqid = 0) => ops.open({ seqid, clientId, owner: Buffer.from(owner), claim: { type: 'previous' } })
const newLocker = (clientId: bigint, openStateid: Stateid, owner: string) =>
  ({ newOwner: true as const, openSeqid: 0, openStateid, lockSeqid: 0, clientId, owner: Buffer.from(owner) })

t.test('a first start has nothing to reclaim: no grace period', async (t) => {
  const { start, connect, store } = world(t)
  const server = await start(60_000)
  const client = await connect(server, 1)
  const clientId = await session41(client, 'first')
  const root = await rootOf(client)
  t.equal((await client.compound([ops.putfh(root), createOpen(clientId, 'o', 'f')])).status, status.OK, 'OPEN works at once')
  t.same(store.names(), ['1:first'], 'the confirmed client is recorded')
})

t.test('4.1: recorded clients reclaim, others get NO_GRACE, RECLAIM_COMPLETE ends the period early', async (t) => {
  const { start, connect, store } = world(t)
  const before = await start(0)
  const alpha = await connect(before, 1)
  const alphaId = await session41(alpha, 'alpha')
  const root = await rootOf(alpha)
  const opened = await alpha.compound([ops.putfh(root), createOpen(alphaId, 'o', 'f'), ops.getfh()])
  const fh = opened.results[3]?.value as Buffer
  const stateid = (opened.results[2]?.value as { stateid: Stateid }).stateid
  await alpha.ok([ops.putfh(fh), ops.lock(2, 0n, 100n, newLocker(alphaId, stateid, 'l'))])
  t.same(store.names(), ['1:alpha'])
  await before.close(50) // the "crash": clients keep their state in memory and reclaim it

  const after = await start(60_000)
  const beta = await connect(after, 1)
  const betaId = await session41(beta, 'beta')
  t.equal((await beta.compound([ops.putfh(root), createOpen(betaId, 'o', 'g')])).status, status.GRACE, 'a non-reclaim OPEN waits for the grace period')
  t.equal((await beta.compound([ops.putfh(fh), reclaimOpen(betaId, 'o')])).status, status.NO_GRACE, 'a client with no record may not reclaim')
  t.same(store.names(), ['1:alpha', '1:beta'], 'during the period the old record stays next to the new one')

  const alphaAgain = await connect(after, 1)
  const alphaNewId = await session41(alphaAgain, 'alpha')
  t.not(alphaNewId, alphaId, 'a new client id after the restart')
  const reclaimed = await alphaAgain.compound([ops.putfh(fh), reclaimOpen(alphaNewId, 'o')])
  t.equal(reclaimed.status, status.OK, 'the recorded client reclaims its open')
  const reclaimedStateid = (reclaimed.results[2]?.value as { stateid: Stateid }).stateid
  t.equal((await alphaAgain.compound([ops.putfh(fh), ops.lock(2, 0n, 100n, newLocker(alphaNewId, reclaimedStateid, 'l'), true)])).status, status.OK, 'and its lock')
  t.equal((await beta.compound([ops.putfh(fh), ops.lockt(2, 0n, 10n, betaId, Buffer.from('x'))])).status, status.GRACE, 'LOCKT waits too')
  await alphaAgain.ok([ops.reclaimComplete()])
  t.equal((await beta.compound([ops.putfh(root), createOpen(betaId, 'o', 'g')])).status, status.OK, 'every recorded client completed: the period is over')
  const lockt = await beta.compound([ops.putfh(fh), ops.lockt(2, 0n, 10n, betaId, Buffer.from('x'))])
  t.equal(lockt.status, status.DENIED, 'the reclaimed lock holds against others')
  t.equal((await alphaAgain.compound([ops.putfh(fh), reclaimOpen(alphaNewId, 'o2')])).status, status.NO_GRACE, 'no reclaim after RECLAIM_COMPLETE')
  await after.close(50)
  t.same(store.names(), ['1:alpha', '1:beta'])
})

t.test('4.0: reclaim during the whole period; records of clients that did not return are dropped after it', async (t) => {
  const { start, connect, store, clock } = world(t)
  store.records = [{ minorVersion: 0, ownerId: Buffer.from('gone') }]
  const before = await start(0)
  const gamma = await connect(before, 0)
  const gammaId = await gamma.establish('gamma')
  const root = await rootOf(gamma)
  const opened = await gamma.compound([ops.putfh(root), createOpen(gammaId, 'o', 'f'), ops.getfh()])
  const fh = opened.results[2]?.value as Buffer
  t.same(store.names(), ['0:gamma'], 'the previous run\'s record of "gone" ended with the zero-length grace period')
  store.records.push({ minorVersion: 0, ownerId: Buffer.from('gone') })
  await before.close(50)

  const after = await start(10_000)
  const gammaAgain = await connect(after, 0)
  const gammaNewId = await gammaAgain.establish('gamma')
  t.equal((await gammaAgain.compound([ops.putfh(fh), reclaimOpen(gammaNewId, 'o')])).status, status.OK, 'CLAIM_PREVIOUS from the recorded 4.0 client')
  const delta = await connect(after, 0)
  const deltaId = await delta.establish('delta')
  t.equal((await delta.compound([ops.putfh(root), createOpen(deltaId, 'o', 'g')])).status, status.GRACE, 'others wait')
  clock.advance(5_000)
  t.equal((await delta.compound([ops.putfh(root), createOpen(deltaId, 'o', 'g')])).status, status.GRACE, 'no RECLAIM_COMPLETE in 4.0: the period runs on')
  clock.advance(5_001)
  t.equal((await delta.compound([ops.putfh(root), createOpen(deltaId, 'o', 'g')])).status, status.OK, 'after graceMs, OPEN works')
  t.equal((await gammaAgain.compound([ops.putfh(fh), reclaimOpen(gammaNewId, 'o2')])).status, status.NO_GRACE, 'and reclaims are over')
  await after.close(50)
  t.same(store.names(), ['0:delta', '0:gamma'], '"gone" did not come back: its record is dropped')
})

t.test('expired and destroyed clients lose their records; an unreadable store lets everyone reclaim', async (t) => {
  const { start, connect, store, clock } = world(t)
  const server = await start(0)
  const a = await connect(server, 1)
  const aId = await session41(a, 'a')
  const b = await connect(server, 0)
  await b.establish('b')
  t.same(store.names(), ['0:b', '1:a'])
  await a.ok([ops.destroySession(a.session!.id)])
  a.session = undefined
  await a.ok([ops.destroyClientId(aId)])
  clock.advance(200_000) // b stops renewing
  server.state.expire(0)
  await server.close(50)
  t.same(store.names(), [], 'no records left')

  store.records = [{ minorVersion: 1, ownerId: Buffer.from('x') }]
  store.failLoad = true
  const again = await start(10_000)
  const c = await connect(again, 1)
  const cId = await session41(c, 'never-recorded')
  const root = await rootOf(c)
  t.equal((await c.compound([ops.putfh(root), createOpen(cId, 'o', 'f')])).status, status.GRACE, 'a full grace period')
  t.not((await c.compound([ops.putfh(root), ops.lookup('missing'), reclaimOpen(cId, 'o')])).status, status.NO_GRACE, 'any client may try to reclaim')
})

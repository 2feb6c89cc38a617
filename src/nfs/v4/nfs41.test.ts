// NFSv4.1 over TCP: EXCHANGE_ID / CREATE_SESSION / SEQUENCE rules, the slot table and reply
// cache, opens without seqids, the current stateid, TEST_STATEID / FREE_STATEID, teardown.
import t from 'tap'
import { startHarness } from '../testing/harness.ts'
import { ops, type NfsTestClient, type Stateid } from '../testing/nfs-client.ts'
import { attr, op, status } from './constants.ts'

async function rootOf(client: NfsTestClient): Promise<Buffer> {
  const [, , fh] = await client.ok([ops.putrootfh(), ops.lookup('export'), ops.getfh()])
  return fh as Buffer
}

t.test('session establishment and SEQUENCE placement rules', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect(1)
  t.equal((await client.compound([ops.putrootfh()])).results[0]?.status, status.OP_NOT_IN_SESSION)
  const [exchange] = await client.ok([ops.exchangeId(Buffer.from('verifier'), Buffer.from('c41'))]) as [{ clientId: bigint; sequenceId: number; flags: number }]
  t.equal(exchange.flags & 0x8000_0000, 0, 'not confirmed before CREATE_SESSION')
  t.equal((await client.compound([ops.exchangeId(Buffer.from('verifier'), Buffer.from('c41')), ops.putrootfh()])).status, status.NOT_ONLY_OP)
  const created = await client.compound([ops.createSession(exchange.clientId, exchange.sequenceId)])
  const session = created.results[0]?.value as { sessionId: Buffer; slots: number; maxOperations: number }
  t.same([created.status, session.slots, session.maxOperations], [status.OK, 8, 16])
  const replayed = await client.compound([ops.createSession(exchange.clientId, exchange.sequenceId)])
  t.same(replayed.results[0]?.value, session, 'a retransmitted CREATE_SESSION gets the same session')
  t.equal((await client.compound([ops.createSession(exchange.clientId, exchange.sequenceId + 5)])).status, status.SEQ_MISORDERED)
  const [again] = await client.ok([ops.exchangeId(Buffer.from('verifier'), Buffer.from('c41'))]) as [{ clientId: bigint; flags: number }]
  t.equal(again.clientId, exchange.clientId)
  t.not(again.flags & 0x8000_0000, 0, 'confirmed by CREATE_SESSION')
  client.session = { id: session.sessionId, sequences: [] }
  client.clientId = exchange.clientId
  t.equal((await client.compound([ops.putrootfh(), ops.sequence(session.sessionId, 9, 1)])).results[2]?.status, status.SEQUENCE_POS)
  t.equal((await client.compound([ops.setclientid(Buffer.alloc(8), Buffer.from('x'))])).status, status.NOTSUPP, '4.0-only operations are NOTSUPP in 4.1')
  t.equal((await client.compound([ops.raw(op.LAYOUTGET)])).status, status.NOTSUPP)
  t.equal((await client.compound([ops.raw(70)])).results[1]?.opnum, op.ILLEGAL)
  t.equal((await client.compound([ops.reclaimComplete()])).status, status.OK)
  t.equal((await client.compound([ops.reclaimComplete()])).status, status.COMPLETE_ALREADY)
  t.equal((await client.compound(Array.from({ length: 16 }, () => ops.putrootfh()))).status, status.TOO_MANY_OPS, 'more ops than negotiated')
  client.session.sequences[0] = (client.session.sequences[0] ?? 1) - 1 // SEQUENCE failed: the slot did not move
  const [flavors] = (await client.ok([ops.putrootfh(), ops.secinfoNoName()])).slice(1)
  t.same(flavors, [1, 0])
  t.equal((await client.compound([ops.putrootfh(), ops.secinfoNoName(), ops.getfh()])).status, status.NOFILEHANDLE, 'SECINFO_NO_NAME consumes the filehandle')
  t.equal((await client.compound([ops.sequence(Buffer.alloc(16), 1, 0)], { noSequence: true })).status, status.BADSESSION)
})

t.test('slot table: replay from the cache, misordered, bad slot, uncached retry', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect(1)
  await client.establish()
  const id = client.session!.id
  const mkdir = (name: string, sequence: number, slot: number, cache = true) =>
    client.compound([ops.sequence(id, sequence, slot, cache), ops.putrootfh(), ops.lookup('export'), ops.mkdir(name)], { noSequence: true })
  const first = await mkdir('made-once', 1, 3)
  t.equal(first.status, status.OK)
  const replay = await mkdir('made-once', 1, 3)
  t.same(replay, first, 'the retransmission is answered from the reply cache, not run again')
  t.equal((await mkdir('made-once', 3, 3)).results[0]?.status, status.SEQ_MISORDERED)
  t.equal((await mkdir('x', 1, 99)).results[0]?.status, status.BADSLOT)
  const uncached = await client.compound([ops.sequence(id, 1, 4, false), ops.putrootfh()], { noSequence: true })
  t.equal(uncached.status, status.OK)
  const retry = await client.compound([ops.sequence(id, 1, 4, false), ops.putrootfh()], { noSequence: true })
  t.equal(retry.results[0]?.status, status.RETRY_UNCACHED_REP)
  const next = await mkdir('made-twice', 2, 3)
  t.equal(next.status, status.OK, 'the slot moves on')
})

t.test('OPEN without seqids; current stateid; CLAIM_FH; EXCLUSIVE4_1; TEST/FREE_STATEID; CLOSE', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect(1)
  const clientId = await client.establish()
  const root = await rootOf(client)
  const owner = Buffer.from('owner41')
  const current: Stateid = { seqid: 1, other: Buffer.alloc(12) }
  const reply = await client.compound([
    ops.putfh(root),
    ops.open({ clientId, owner, claim: { type: 'null', name: 'f41' }, create: { mode: 'exclusive41', verifier: Buffer.from('abcdefgh'), attributes: { mode: 0o600 } } }),
    ops.write(current, 0, Buffer.from('written with the current stateid')),
    ops.getfh(),
    ops.getattr([attr.MODE, attr.SIZE]),
  ])
  t.equal(reply.status, status.OK)
  const opened = reply.results[2]?.value as { stateid: Stateid; rflags: number; attrset: number[] }
  t.equal(opened.rflags & 2, 0, 'no OPEN_CONFIRM in 4.1')
  const fh = reply.results[4]?.value as Buffer
  t.same([(reply.results[5]?.value as Record<string, unknown>).mode, (reply.results[5]?.value as Record<string, unknown>).size], [0o600, 32n])
  const again = await client.compound([ops.putfh(fh), ops.open({ clientId, owner, claim: { type: 'fh' }, access: 1 })])
  const reopened = again.results[2]?.value as { stateid: Stateid }
  t.same([again.status, reopened.stateid.other, reopened.stateid.seqid], [status.OK, opened.stateid.other, opened.stateid.seqid + 1], 'CLAIM_FH on the same owner upgrades the same stateid')
  const [, tested] = await client.ok([ops.putfh(fh), ops.testStateid([reopened.stateid, opened.stateid, { seqid: 0, other: reopened.stateid.other }, { seqid: 1, other: Buffer.alloc(12, 7) }])])
  t.same(tested, [status.OK, status.OLD_STATEID, status.OK, status.BAD_STATEID])
  t.equal((await client.compound([ops.freeStateid(reopened.stateid)])).status, status.LOCKS_HELD, 'an open is freed by CLOSE')
  const lock = await client.compound([ops.putfh(fh), ops.lock(2, 0n, 10n, { newOwner: true, openSeqid: 0, openStateid: { seqid: 0, other: reopened.stateid.other }, lockSeqid: 0, clientId, owner: Buffer.from('l41') })])
  const lockStateid = lock.results[2]?.value as Stateid
  t.equal(lock.status, status.OK)
  t.equal((await client.compound([ops.freeStateid(lockStateid)])).status, status.LOCKS_HELD)
  await client.ok([ops.putfh(fh), ops.locku(2, 0, lockStateid, 0n, 10n)])
  t.equal((await client.compound([ops.freeStateid(lockStateid)])).status, status.OK)
  const closed = await client.compound([ops.putfh(fh), ops.close(0, reopened.stateid)])
  t.same(closed.results[2]?.value, { seqid: 0xffff_ffff, other: Buffer.alloc(12) }, 'CLOSE answers the invalid special stateid')
  const exclusiveAgain = await client.compound([ops.putfh(root), ops.open({ clientId, owner: Buffer.from('o2'), claim: { type: 'null', name: 'f41' }, create: { mode: 'exclusive41', verifier: Buffer.from('zzzzzzzz') } })])
  t.equal(exclusiveAgain.status, status.EXIST)
})

t.test('grace period: non-reclaim OPEN waits, reclaim after RECLAIM_COMPLETE is refused', async (t) => {
  const h = await startHarness(t, { graceMs: 10_000 })
  const client = await h.connect(1)
  const [exchange] = await client.ok([ops.exchangeId(Buffer.from('verifier'), Buffer.from('grace'))]) as [{ clientId: bigint; sequenceId: number }]
  const [session] = await client.ok([ops.createSession(exchange.clientId, exchange.sequenceId)]) as [{ sessionId: Buffer }]
  client.session = { id: session.sessionId, sequences: [] }
  const root = await rootOf(client)
  const openSpec = ops.open({ clientId: exchange.clientId, owner: Buffer.from('g'), claim: { type: 'null', name: 'g' }, create: { mode: 'unchecked' } })
  t.equal((await client.compound([ops.putfh(root), openSpec])).status, status.GRACE)
  await client.ok([ops.reclaimComplete()])
  t.equal((await client.compound([ops.putfh(root), ops.open({ clientId: exchange.clientId, owner: Buffer.from('g'), claim: { type: 'previous' } })])).status, status.NO_GRACE)
  h.clock.advance(10_001)
  t.equal((await client.compound([ops.putfh(root), openSpec])).status, status.OK, 'after the grace period')
})

t.test('DESTROY_SESSION, DESTROY_CLIENTID, and lease expiry of a silent client', async (t) => {
  const h = await startHarness(t, { leaseMs: 2_000 })
  const client = await h.connect(1)
  const clientId = await client.establish()
  const root = await rootOf(client)
  await client.ok([ops.putfh(root), ops.open({ clientId, owner: Buffer.from('o'), claim: { type: 'null', name: 'x' }, create: { mode: 'unchecked' } })])
  const id = client.session!.id
  t.equal((await client.compound([ops.destroyClientId(clientId)], { noSequence: true })).status, status.CLIENTID_BUSY)
  h.clock.advance(5_000)
  t.equal(h.server.state.expire(1_000), 1)
  t.equal((await client.compound([ops.putrootfh()])).results[0]?.status, status.BADSESSION, 'an expired client loses its sessions')
  const other = await h.connect(1)
  const otherId = await other.establish('second')
  t.equal((await other.compound([ops.destroySession(other.session!.id)], { noSequence: true })).status, status.OK)
  t.equal((await other.compound([ops.destroyClientId(otherId)], { noSequence: true })).status, status.OK)
  t.equal((await other.compound([ops.destroyClientId(otherId)], { noSequence: true })).status, status.STALE_CLIENTID)
  t.ok(id.length === 16)
})

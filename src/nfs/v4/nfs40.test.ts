// NFSv4.0 over TCP against the in-memory file service: COMPOUND rules, the pseudo root,
// namespace operations, OPEN/READ/WRITE/CLOSE with seqids, attributes, locks, export policy.
import t from 'tap'
import { XdrWriter } from '../xdr.ts'
import { acceptStat } from '../rpc-message.ts'
import { startHarness } from '../testing/harness.ts'
import { ops, type NfsTestClient, type Stateid } from '../testing/nfs-client.ts'
import { access4, attr, compoundProcedure, nfsProgram, op, status } from './constants.ts'

const share = { read: 1, write: 2, both: 3 }
const denyWrite = 2

async function fhOf(client: NfsTestClient, ...path: string[]): Promise<Buffer> {
  const [, ...rest] = await client.ok([ops.putrootfh(), ...path.map((name) => ops.lookup(name)), ops.getfh()])
  return rest.at(-1) as Buffer
}

/** An open owner that tracks its own seqid. */
class Owner {
  seqid = 0
  readonly client: NfsTestClient
  readonly name: Buffer
  constructor(client: NfsTestClient, name: string) {
    this.client = client
    this.name = Buffer.from(name)
  }
  next(): number {
    return this.seqid++
  }
  /** OPEN (+ OPEN_CONFIRM when asked); returns the stateid and the file handle. */
  async open(directory: Buffer, name: string, options: { create?: Parameters<typeof ops.open>[0]['create']; access?: number; deny?: number } = {}) {
    const reply = await this.client.compound([
      ops.putfh(directory),
      ops.open({ seqid: this.next(), clientId: this.client.clientId, owner: this.name, claim: { type: 'null', name }, access: options.access, deny: options.deny, create: options.create }),
      ops.getfh(),
    ])
    if (reply.status !== status.OK) return { status: reply.status, stateid: undefined as unknown as Stateid, fh: Buffer.alloc(0) }
    const opened = reply.results[1]?.value as { stateid: Stateid; rflags: number }
    const fh = reply.results[2]?.value as Buffer
    let stateid = opened.stateid
    if ((opened.rflags & 2) !== 0) {
      const [, confirmed] = await this.client.ok([ops.putfh(fh), ops.openConfirm(stateid, this.next())])
      stateid = confirmed as Stateid
    }
    return { status: status.OK, stateid, fh, rflags: opened.rflags }
  }
}

t.test('COMPOUND rules: minor version, illegal and 4.1-only ops, bad XDR, no filehandle, RPC errors', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  t.equal((await client.compound([], { minorVersion: 2 })).status, status.MINOR_VERS_MISMATCH)
  const empty = await client.compound([], { tag: 'empty' })
  t.same([empty.status, empty.tag, empty.results.length], [status.OK, 'empty', 0])
  const illegal = await client.compound([ops.putrootfh(), ops.raw(99)])
  t.same(illegal.results.map((r) => [r.opnum, r.status]), [[op.PUTROOTFH, 0], [op.ILLEGAL, status.OP_ILLEGAL]])
  const exchangeIn40 = await client.compound([ops.raw(op.EXCHANGE_ID)])
  t.same(exchangeIn40.results.map((r) => [r.opnum, r.status]), [[op.ILLEGAL, status.OP_ILLEGAL]], '4.1 operations are illegal in 4.0')
  t.equal((await client.compound([ops.getfh()])).status, status.NOFILEHANDLE)
  t.equal((await client.compound([ops.putrootfh(), ops.raw(op.LOOKUP, Buffer.from([0, 0, 1, 0]))])).status, status.BADXDR)
  t.equal((await client.compound([ops.raw(op.OPENATTR, Buffer.alloc(4))])).status, status.NOTSUPP)
  t.equal((await client.compound([ops.putfh(Buffer.from([9, 9, 9]))])).status, status.BADHANDLE)
  t.equal((await client.compound([ops.restorefh()])).status, status.RESTOREFH)
  const garbage = await client.rpc.call(nfsProgram, 4, compoundProcedure, new XdrWriter().u32(5000))
  t.equal(garbage.kind === 'accepted' && garbage.stat, acceptStat.garbageArgs, 'a header that cannot be decoded is GARBAGE_ARGS')
  const proc = await client.rpc.call(nfsProgram, 4, 2)
  t.equal(proc.kind === 'accepted' && proc.stat, acceptStat.procUnavail)
  const version = await client.rpc.call(nfsProgram, 3, 0)
  t.same(version.kind === 'accepted' && version.mismatch, { low: 4, high: 4 })
  const nul = await client.rpc.call(nfsProgram, 4, 0)
  t.equal(nul.kind === 'accepted' && nul.stat, acceptStat.success)
})

t.test('pseudo root lists exports; LOOKUP enters, LOOKUPP leaves; attributes', async (t) => {
  const h = await startHarness(t, { fileSystems: [{ name: 'export' }, { name: 'default' }] })
  const client = await h.connect()
  const [, listing] = await client.ok([ops.putrootfh(), ops.readdir(0n, Buffer.alloc(8), 8192, [attr.TYPE, attr.FILEID, attr.MOUNTED_ON_FILEID, attr.FSID])])
  const names = (listing as { entries: Array<{ name: string }> }).entries.map((entry) => entry.name)
  t.same(names, ['export', 'default'])
  const bits = [attr.SUPPORTED_ATTRS, attr.TYPE, attr.FSID, attr.FILEID, attr.MODE, attr.NUMLINKS, attr.OWNER, attr.LEASE_TIME, attr.FILEHANDLE, attr.MAXREAD, attr.SPACE_TOTAL]
  const [, , fh, rootAttrs, , pseudoAttrs] = await client.ok([ops.putrootfh(), ops.lookup('export'), ops.getfh(), ops.getattr(bits), ops.lookupp(), ops.getattr([attr.FSID, attr.TYPE])])
  const attrs = rootAttrs as Record<string, unknown>
  t.equal(attrs.type, 2, 'export root is a directory')
  t.same(attrs.filehandle, fh, 'filehandle attribute equals GETFH')
  t.equal(attrs.owner, '0', 'numeric owner strings')
  t.equal(attrs.leaseTime, 60)
  t.equal(attrs.maxRead, 1048576n)
  t.ok((attrs.spaceTotal as bigint) > 0n)
  t.notSame((pseudoAttrs as Record<string, unknown>).fsid, attrs.fsid, 'the pseudo root is another file system')
  t.equal((await client.compound([ops.putrootfh(), ops.lookup('nope')])).status, status.NOENT)
  t.equal((await client.compound([ops.putrootfh(), ops.lookup('..')])).status, status.BADNAME)
  t.equal((await client.compound([ops.putrootfh(), ops.lookupp()])).status, status.NOENT)
  const [flavors] = (await client.ok([ops.putrootfh(), ops.secinfo('export')])).slice(1)
  t.same(flavors, [1, 0], 'SECINFO: AUTH_SYS, AUTH_NONE')
  t.equal((await client.compound([ops.putrootfh(), ops.mkdir('x')])).status, status.ROFS, 'the pseudo root is read-only')
})

t.test('namespace: mkdir, create, readdir paging, rename over existing, link, symlink, remove', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  await client.establish()
  const root = await fhOf(client, 'export')
  const owner = new Owner(client, 'owner-a')
  await client.ok([ops.putfh(root), ops.mkdir('dir')])
  const dir = await fhOf(client, 'export', 'dir')
  for (let index = 0; index < 40; index += 1) {
    const opened = await owner.open(dir, `f${index}`, { create: { mode: 'unchecked' } })
    await client.ok([ops.putfh(opened.fh), ops.close(owner.next(), opened.stateid)])
  }
  const seen: string[] = []
  let cookie = 0n
  let verifier: Buffer = Buffer.alloc(8)
  let rounds = 0
  for (;;) {
    const [, page] = await client.ok([ops.putfh(dir), ops.readdir(cookie, verifier, 600, [attr.TYPE, attr.FILEID, attr.SIZE])]) as [unknown, { verifier: Buffer; entries: Array<{ cookie: bigint; name: string }>; eof: boolean }]
    seen.push(...page.entries.map((entry) => entry.name))
    rounds += 1
    if (page.eof) break
    cookie = page.entries.at(-1)?.cookie ?? 0n
    verifier = page.verifier
  }
  t.ok(rounds > 3, `small maxcount pages the listing (${rounds} pages)`)
  t.same([...seen].sort(), Array.from({ length: 40 }, (_, index) => `f${index}`).sort(), 'every entry once')
  t.equal((await client.compound([ops.putfh(dir), ops.readdir(0n, Buffer.alloc(8), 20, [attr.TYPE])])).status, status.TOOSMALL)
  t.equal((await client.compound([ops.putfh(dir), ops.readdir(2n, Buffer.alloc(8), 4000, [])])).status, status.BAD_COOKIE)

  const renamed = await client.compound([ops.putfh(dir), ops.savefh(), ops.putfh(dir), ops.rename('f1', 'f2')])
  t.equal(renamed.status, status.OK, 'rename over an existing file')
  t.equal((await client.compound([ops.putfh(dir), ops.lookup('f1')])).status, status.NOENT)
  await client.ok([ops.putfh(dir), ops.mkdir('sub')])
  const sub = await fhOf(client, 'export', 'dir', 'sub')
  t.equal((await client.compound([ops.putfh(dir), ops.savefh(), ops.putfh(sub), ops.rename('f3', 'moved')])).status, status.OK, 'rename across directories')
  t.equal((await client.compound([ops.putfh(dir), ops.savefh(), ops.putfh(sub), ops.rename('sub', 'inside')])).status, status.INVAL, 'a directory cannot move into itself')
  const f4 = await fhOf(client, 'export', 'dir', 'f4')
  await client.ok([ops.putfh(f4), ops.savefh(), ops.putfh(sub), ops.link('hard')])
  const [, links] = await client.ok([ops.putfh(f4), ops.getattr([attr.NUMLINKS])])
  t.equal((links as Record<string, unknown>).numlinks, 2)
  t.equal((await client.compound([ops.putfh(sub), ops.savefh(), ops.putfh(dir), ops.link('dirlink')])).status, status.ISDIR)
  await client.ok([ops.putfh(sub), ops.symlink('ln', '../f4')])
  const [, , , target] = await client.ok([ops.putfh(sub), ops.lookup('ln'), ops.getfh(), ops.readlink()])
  t.equal(target, '../f4')
  t.equal((await client.compound([ops.putfh(sub), ops.lookup('ln'), ops.lookup('x')])).status, status.SYMLINK)
  t.equal((await client.compound([ops.putfh(f4), ops.lookup('x')])).status, status.NOTDIR)
  t.equal((await client.compound([ops.putfh(dir), ops.remove('sub')])).status, status.NOTEMPTY)
  t.equal((await client.compound([ops.putfh(dir), ops.createType(7, 'fifo')])).status, status.BADTYPE)
  const removed = await client.compound([ops.putfh(sub), ops.remove('hard')])
  const cinfo = removed.results[1]?.value as { before: bigint; after: bigint }
  t.ok(cinfo.after > cinfo.before, 'change_info moves')
  t.equal((await client.compound([ops.putfh(dir), ops.mkdir('sub')])).status, status.EXIST)
})

t.test('OPEN, WRITE, READ, COMMIT, CLOSE with confirm, replays and stateid checks', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  await client.establish()
  const root = await fhOf(client, 'export')
  const owner = new Owner(client, 'writer')
  const opened = await owner.open(root, 'data', { create: { mode: 'guarded', attributes: { mode: 0o640 } } })
  t.equal(opened.status, status.OK)
  t.ok(((opened.rflags ?? 0) & 2) !== 0, 'a new 4.0 open owner must confirm')
  const payload = Buffer.alloc(300_000, 'abc')
  const [, written] = await client.ok([ops.putfh(opened.fh), ops.write(opened.stateid, 0, payload, 0)]) as [unknown, { count: number; committed: number; verifier: Buffer }]
  t.same([written.count, written.committed], [payload.length, 0])
  const [, verifier] = await client.ok([ops.putfh(opened.fh), ops.commit()])
  t.same(verifier, written.verifier, 'COMMIT returns the write verifier')
  const [, readBack] = await client.ok([ops.putfh(opened.fh), ops.read(opened.stateid, 0, 1 << 20)]) as [unknown, { eof: boolean; data: Buffer }]
  t.ok(readBack.data.equals(payload) && readBack.eof, 'read back what was written')
  const anonymous = { seqid: 0, other: Buffer.alloc(12) }
  const [, partial] = await client.ok([ops.putfh(opened.fh), ops.read(anonymous, 299_990, 100)]) as [unknown, { eof: boolean; data: Buffer }]
  t.same([partial.data.length, partial.eof], [10, true], 'anonymous stateid reads; short at end of file')
  t.equal((await client.compound([ops.putfh(root), ops.read(anonymous, 0, 10)])).status, status.ISDIR)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.read({ seqid: opened.stateid.seqid + 5, other: opened.stateid.other }, 0, 1)])).status, status.BAD_STATEID)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.read({ seqid: opened.stateid.seqid - 1, other: opened.stateid.other }, 0, 1)])).status, status.OLD_STATEID)
  const otherBoot = Buffer.from(opened.stateid.other)
  otherBoot.writeUInt32BE((otherBoot.readUInt32BE(0) + 1) >>> 0, 0)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.read({ seqid: 1, other: otherBoot }, 0, 1)])).status, status.STALE_STATEID)

  t.equal((await owner.open(root, 'data', { create: { mode: 'guarded' } })).status, status.EXIST, 'GUARDED on an existing file')
  const reader = new Owner(client, 'reader')
  const ro = await reader.open(root, 'data', { access: share.read })
  t.equal(ro.status, status.OK)
  t.equal((await client.compound([ops.putfh(ro.fh), ops.write(ro.stateid, 0, Buffer.from('x'))])).status, status.OPENMODE)
  const third = new Owner(client, 'third')
  t.equal((await third.open(root, 'data', { access: share.read, deny: denyWrite })).status, status.SHARE_DENIED, 'cannot deny writes while a writer holds the file')
  // Retransmission: the same seqid again answers the same reply; a skipped seqid is BAD_SEQID.
  const seqid = owner.next()
  const closeOnce = await client.compound([ops.putfh(opened.fh), ops.close(seqid, opened.stateid)])
  const closeAgain = await client.compound([ops.putfh(opened.fh), ops.close(seqid, opened.stateid)])
  t.equal(closeOnce.status, status.OK)
  t.same(closeAgain, closeOnce, 'a retransmitted CLOSE gets the same answer')
  const skip = await client.compound([ops.putfh(ro.fh), ops.openDowngrade(ro.stateid, reader.seqid + 3, share.read, 0)])
  t.equal(skip.status, status.BAD_SEQID)
  const denying = await third.open(root, 'data', { access: share.read, deny: denyWrite })
  t.equal(denying.status, status.OK, 'with the writer gone, deny-write is granted')
  t.equal((await new Owner(client, 'fourth').open(root, 'data', { access: share.write })).status, status.SHARE_DENIED, 'and keeps writers out')
  const [, downgraded] = await client.ok([ops.putfh(denying.fh), ops.openDowngrade(denying.stateid, third.next(), share.read, 0)])
  t.equal((downgraded as Stateid).seqid, denying.stateid.seqid + 1)
  t.equal((await new Owner(client, 'fifth').open(root, 'data', { access: share.write })).status, status.OK, 'after the downgrade a writer gets in')
  t.equal((await client.compound([ops.putfh(opened.fh), ops.write(opened.stateid, 0, Buffer.from('x'))])).status, status.BAD_STATEID, 'a closed stateid is gone')
})

t.test('OPEN replay returns the same stateid; exclusive create retransmission', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  await client.establish()
  const root = await fhOf(client, 'export')
  const owner = new Owner(client, 'replayer')
  const first = await owner.open(root, 'one', { create: { mode: 'unchecked' } })
  const seqid = owner.next()
  const openSpec = ops.open({ seqid, clientId: client.clientId, owner: owner.name, claim: { type: 'null', name: 'two' }, create: { mode: 'exclusive', verifier: Buffer.from('12345678') } })
  const a = await client.compound([ops.putfh(root), openSpec, ops.getfh()])
  const b = await client.compound([ops.putfh(root), openSpec, ops.getfh()])
  t.equal(a.status, status.OK)
  t.same(b.results[1]?.value, a.results[1]?.value, 'replayed OPEN answers the same stateid')
  t.same(b.results[2]?.value, a.results[2]?.value, 'and leaves the same current filehandle')
  const other = new Owner(client, 'other')
  const retransmit = await other.open(root, 'two', { create: { mode: 'exclusive', verifier: Buffer.from('12345678') } })
  t.equal(retransmit.status, status.OK, 'exclusive create with the same verifier succeeds again')
  const conflict = await new Owner(client, 'third').open(root, 'two', { create: { mode: 'exclusive', verifier: Buffer.from('87654321') } })
  t.equal(conflict.status, status.EXIST)
  t.ok(first.stateid.other.length === 12)
})

t.test('attributes: SETATTR, VERIFY/NVERIFY, change moves, ACCESS for another user', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  await client.establish()
  const root = await fhOf(client, 'export')
  const owner = new Owner(client, 'attrs')
  const opened = await owner.open(root, 'file', { create: { mode: 'unchecked', attributes: { mode: 0o600 } } })
  const [, before] = await client.ok([ops.putfh(opened.fh), ops.getattr([attr.CHANGE, attr.MODE, attr.SIZE])]) as [unknown, Record<string, unknown>]
  t.equal(before.mode, 0o600)
  const [, attrset] = await client.ok([ops.putfh(opened.fh), ops.setattr(opened.stateid, { size: 5000, mode: 0o644, owner: '1000', group: '100' })])
  t.same(attrset, [(1 << attr.SIZE) >>> 0, (1 << (attr.MODE - 32)) | (1 << (attr.OWNER - 32)) | (1 << (attr.OWNER_GROUP - 32))])
  const [, after] = await client.ok([ops.putfh(opened.fh), ops.getattr([attr.CHANGE, attr.MODE, attr.SIZE, attr.OWNER, attr.OWNER_GROUP])]) as [unknown, Record<string, unknown>]
  t.same([after.mode, after.size, after.owner, after.group], [0o644, 5000n, '1000', '100'])
  t.ok((after.change as bigint) > (before.change as bigint), 'change moves on SETATTR')
  const sizeValue = new XdrWriter().u64(5000).toBuffer()
  t.equal((await client.compound([ops.putfh(opened.fh), ops.verify([attr.SIZE], sizeValue)])).status, status.OK)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.verify([attr.SIZE], sizeValue, true)])).status, status.SAME)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.verify([attr.SIZE], new XdrWriter().u64(1).toBuffer())])).status, status.NOT_SAME)
  t.equal((await client.compound([ops.putfh(opened.fh), ops.setattr(opened.stateid, { owner: 'alice@example.com' })])).status, status.BADOWNER)
  const bad = await client.compound([ops.putfh(opened.fh), ops.raw(op.SETATTR, Buffer.concat([Buffer.alloc(16), new XdrWriter().u32(1).u32(1 << attr.TYPE).u32(4).u32(1).toBuffer()]))])
  t.equal(bad.status, status.INVAL, 'read-only attributes cannot be set')

  client.rpc.credential = { flavor: 'sys', stamp: 1, machineName: 'm', uid: 2000, gid: 2000, gids: [] }
  const [, granted] = await client.ok([ops.putfh(opened.fh), ops.access(access4.READ | access4.MODIFY | access4.EXECUTE)]) as [unknown, { supported: number; access: number }]
  t.same(granted, { supported: access4.READ | access4.MODIFY | access4.EXECUTE, access: access4.READ }, 'other users may only read a 0644 file')
  t.equal((await client.compound([ops.putfh(opened.fh), ops.setattr({ seqid: 0, other: Buffer.alloc(12) }, { mode: 0o777 })])).status, status.PERM)
  t.equal((await client.compound([ops.putfh(root), ops.mkdir('nope')])).status, status.ACCESS, 'no write permission on the root')
})

t.test('byte-range locks between two clients; LOCKT; LOCKU; CLOSE with locks; lease expiry frees them', async (t) => {
  const h = await startHarness(t, { leaseMs: 5_000 })
  const a = await h.connect()
  const b = await h.connect()
  await a.establish('client-a')
  await b.establish('client-b')
  const root = await fhOf(a, 'export')
  const ownerA = new Owner(a, 'oa')
  const ownerB = new Owner(b, 'ob')
  const openA = await ownerA.open(root, 'locked', { create: { mode: 'unchecked', attributes: { mode: 0o666 } } })
  const openB = await ownerB.open(root, 'locked')
  const [, lockA] = await a.ok([ops.putfh(openA.fh), ops.lock(2, 0n, 100n, { newOwner: true, openSeqid: ownerA.next(), openStateid: openA.stateid, lockSeqid: 0, clientId: a.clientId, owner: Buffer.from('la') })])
  const lockStateid = lockA as Stateid
  const deniedB = await b.compound([ops.putfh(openB.fh), ops.lock(1, 50n, 10n, { newOwner: true, openSeqid: ownerB.next(), openStateid: openB.stateid, lockSeqid: 0, clientId: b.clientId, owner: Buffer.from('lb') })])
  t.equal(deniedB.status, status.DENIED)
  t.same(deniedB.results[1]?.value, { offset: 0n, length: 100n, type: 2, clientId: a.clientId, owner: Buffer.from('la') }, 'LOCK4denied names the holder')
  t.equal((await b.compound([ops.putfh(openB.fh), ops.lockt(1, 100n, 0xffff_ffff_ffff_ffffn, b.clientId, Buffer.from('lb'))])).status, status.OK, 'no conflict past the range')
  t.equal((await b.compound([ops.putfh(openB.fh), ops.lockt(1, 99n, 1n, b.clientId, Buffer.from('lb'))])).status, status.DENIED)
  t.equal((await a.compound([ops.putfh(openA.fh), ops.lockt(2, 0n, 1n, a.clientId, Buffer.from('la'))])).status, status.OK, 'own locks do not conflict')
  t.equal((await a.compound([ops.putfh(openA.fh), ops.lock(2, 0n, 0n, { newOwner: false, lockStateid, lockSeqid: 1 })])).status, status.INVAL, 'zero length')
  t.equal((await a.compound([ops.putfh(openA.fh), ops.close(ownerA.next(), openA.stateid)])).status, status.LOCKS_HELD)
  t.equal((await a.compound([ops.putfh(openA.fh), ops.releaseLockowner(a.clientId, Buffer.from('la'))])).status, status.LOCKS_HELD)
  const [, unlocked] = await a.ok([ops.putfh(openA.fh), ops.locku(2, 1, lockStateid, 0n, 50n)])
  t.equal((unlocked as Stateid).seqid, lockStateid.seqid + 1)
  t.equal((await b.compound([ops.putfh(openB.fh), ops.lockt(2, 0n, 50n, b.clientId, Buffer.from('lb'))])).status, status.OK, 'the unlocked half is free')
  t.equal((await b.compound([ops.putfh(openB.fh), ops.lockt(2, 0n, 51n, b.clientId, Buffer.from('lb'))])).status, status.DENIED, 'the other half is still held')

  // Client a disappears: after its lease (and the slack) its locks are gone.
  h.clock.advance(3_000)
  await b.ok([ops.renew(b.clientId)])
  h.clock.advance(5_000)
  t.equal(h.server.state.expire(2_500), 1, 'only the silent client expired')
  t.equal((await b.compound([ops.putfh(openB.fh), ops.lockt(2, 0n, 1000n, b.clientId, Buffer.from('lb'))])).status, status.OK, 'its locks went with it')
  t.equal((await a.compound([ops.renew(a.clientId)])).status, status.STALE_CLIENTID)
})

t.test('export policy: read-only, root squash, allowed clients', async (t) => {
  const h = await startHarness(t, {
    fileSystems: [
      { name: 'ro', exportPolicy: { readOnly: true } },
      { name: 'squashed', exportPolicy: { rootSquash: true, anonymousUid: 65534, anonymousGid: 65534 } },
      { name: 'hidden', exportPolicy: { allowedClients: ['10.0.0.0/8'] } },
      { name: 'local', exportPolicy: { allowedClients: ['127.0.0.1'] } },
    ],
  })
  const client = await h.connect()
  await client.establish()
  const ro = await fhOf(client, 'ro')
  t.equal((await client.compound([ops.putfh(ro), ops.mkdir('d')])).status, status.ROFS)
  t.equal((await new Owner(client, 'o1').open(ro, 'f', { create: { mode: 'unchecked' } })).status, status.ROFS)
  const [, access] = await client.ok([ops.putfh(ro), ops.access(access4.READ | access4.MODIFY)]) as [unknown, { access: number }]
  t.equal(access.access, access4.READ, 'ACCESS never grants MODIFY on a read-only export')

  const squashed = await fhOf(client, 'squashed')
  await h.files.setAttributes({ uid: 0, gid: 0, gids: [] }, (await h.files.findFileSystem('squashed'))!.rootHandle, { mode: 0o777 })
  await client.ok([ops.putfh(squashed), ops.mkdir('by-root')])
  const [, , made] = await client.ok([ops.putfh(squashed), ops.lookup('by-root'), ops.getattr([attr.OWNER])])
  t.equal((made as Record<string, unknown>).owner, '65534', 'root is squashed to the anonymous uid')

  const [, listing] = await client.ok([ops.putrootfh(), ops.readdir(0n, Buffer.alloc(8), 8192, [attr.TYPE])])
  t.same((listing as { entries: Array<{ name: string }> }).entries.map((entry) => entry.name), ['ro', 'squashed', 'local'], 'exports this client may not use are not listed')
  t.equal((await client.compound([ops.putrootfh(), ops.lookup('hidden')])).status, status.NOENT)
  const hiddenRoot = (await h.files.findFileSystem('hidden'))!.rootHandle
  t.equal((await client.compound([ops.putfh(Buffer.concat([Buffer.from([1, 1]), hiddenRoot]))])).status, status.ACCESS)
  t.equal((await client.compound([ops.putrootfh(), ops.lookup('local')])).status, status.OK)
})

t.test('unlink while open keeps the data until CLOSE; stale handles after that', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  await client.establish()
  const root = await fhOf(client, 'export')
  const owner = new Owner(client, 'u')
  const opened = await owner.open(root, 'doomed', { create: { mode: 'unchecked' } })
  await client.ok([ops.putfh(opened.fh), ops.write(opened.stateid, 0, Buffer.from('still here'))])
  await client.ok([ops.putfh(root), ops.remove('doomed')])
  t.equal((await client.compound([ops.putfh(root), ops.lookup('doomed')])).status, status.NOENT)
  const [, data] = await client.ok([ops.putfh(opened.fh), ops.read(opened.stateid, 0, 100)])
  t.equal((data as { data: Buffer }).data.toString(), 'still here')
  await client.ok([ops.putfh(opened.fh), ops.close(owner.next(), opened.stateid)])
  t.equal((await client.compound([ops.putfh(opened.fh), ops.getattr([attr.SIZE])])).status, status.STALE)
})

t.test('SETCLIENTID: rebooted client replaces its old record and state', async (t) => {
  const h = await startHarness(t)
  const client = await h.connect()
  const first = await client.establish('same-name', Buffer.from('boot-one'))
  const root = await fhOf(client, 'export')
  await new Owner(client, 'o').open(root, 'f', { create: { mode: 'unchecked' } })
  const again = await client.establish('same-name', Buffer.from('boot-one'))
  t.equal(again, first, 'same verifier: the same client id')
  const rebooted = await client.establish('same-name', Buffer.from('boot-two'))
  t.not(rebooted, first, 'new verifier: a new client id')
  t.equal((await client.compound([ops.renew(first)])).status, status.STALE_CLIENTID, 'the old record is gone')
  t.equal(h.server.state.clientCount, 1)
})

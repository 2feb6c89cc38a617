// Seeded garbage against the NFSv4 server: mutated valid COMPOUNDs and random operation streams.
// Every request must get an answer (any RPC or NFS status) or a disconnect, never a crash or a
// hang, and the server must report no bug. NFS_FUZZ_SEED reproduces a run; NFS_FUZZ_ROUNDS scales it.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeCall } from '../rpc-message.ts'
import { XdrWriter } from '../xdr.ts'
import { startHarness } from '../testing/harness.ts'
import { ops, type OpSpec } from '../testing/nfs-client.ts'
import { SeededRandom } from '../testing/seeded-random.ts'
import { compoundProcedure, nfsProgram, nfsVersion4, op } from './constants.ts'

function compoundMessage(xid: number, minorVersion: number, specs: readonly OpSpec[]): Buffer {
  const args = new XdrWriter().string('fuzz').u32(minorVersion).u32(specs.length)
  for (const spec of specs) {
    args.u32(spec.opnum)
    spec.encode(args)
  }
  const credential = { flavor: 'sys' as const, stamp: 1, machineName: 'fuzz', uid: 0, gid: 0, gids: [] }
  return encodeCall({ xid, program: nfsProgram, version: nfsVersion4, procedure: compoundProcedure, credential }, args).toBuffer()
}

t.test('mutated and random COMPOUNDs never crash or hang the server', async (t) => {
  const h = await startHarness(t)
  const setup = await h.connect(0)
  const clientId = await setup.establish('fuzz-setup')
  const [, , root] = await setup.ok([ops.putrootfh(), ops.lookup('export'), ops.getfh()]) as [unknown, unknown, Buffer]
  const session = await h.connect(1)
  await session.establish('fuzz-41')
  const sessionId = session.session!.id
  const owner = Buffer.from('fuzz-owner')
  const anonymous = { seqid: 0, other: Buffer.alloc(12) }
  const templates: Array<{ minor: number; specs: OpSpec[] }> = [
    { minor: 0, specs: [ops.putrootfh(), ops.lookup('export'), ops.getfh(), ops.getattr([0, 1, 3, 4, 8, 20, 33, 35, 36, 55])] },
    { minor: 0, specs: [ops.putfh(root), ops.open({ seqid: 0, clientId, owner, claim: { type: 'null', name: 'fz' }, create: { mode: 'unchecked', attributes: { mode: 0o644, size: 0 } } }), ops.getfh()] },
    { minor: 0, specs: [ops.putfh(root), ops.readdir(0n, Buffer.alloc(8), 4096, [1, 20, 35])] },
    { minor: 0, specs: [ops.putfh(root), ops.mkdir('d'), ops.symlink('s', 'target'), ops.savefh(), ops.putfh(root), ops.rename('d', 'e')] },
    { minor: 0, specs: [ops.putfh(root), ops.lookup('fz'), ops.write(anonymous, 10, Buffer.alloc(100, 1)), ops.read(anonymous, 0, 50), ops.commit()] },
    { minor: 0, specs: [ops.putfh(root), ops.lookup('fz'), ops.lock(2, 0n, 10n, { newOwner: true, openSeqid: 1, openStateid: anonymous, lockSeqid: 0, clientId, owner })] },
    { minor: 0, specs: [ops.setclientid(Buffer.from('vvvvvvvv'), Buffer.from('fz')), ops.renew(clientId)] },
    { minor: 1, specs: [ops.sequence(sessionId, 1, 2), ops.putrootfh(), ops.lookup('export'), ops.access(0x3f), ops.secinfoNoName()] },
    { minor: 1, specs: [ops.exchangeId(Buffer.from('vvvvvvvv'), Buffer.from('fz41'))] },
    { minor: 1, specs: [ops.createSession(clientId, 1)] },
    { minor: 1, specs: [ops.sequence(sessionId, 1, 3), ops.putfh(root), ops.testStateid([anonymous]), ops.freeStateid(anonymous)] },
  ]
  const random = new SeededRandom(Number(process.env.NFS_FUZZ_SEED ?? 77_001))
  const rounds = Number(process.env.NFS_FUZZ_ROUNDS ?? 600)
  t.comment(`seed ${random.seed}, ${rounds} rounds`)
  let client = (await h.connect(0)).rpc
  let answered = 0
  let disconnects = 0
  for (let round = 0; round < rounds; round += 1) {
    const xid = 1_000_000 + round
    let message: Buffer
    if (random.below(4) === 0) {
      // A random stream of operation numbers with random argument bytes.
      const specs = Array.from({ length: 1 + random.below(6) }, () => ops.raw(random.below(4) === 0 ? random.below(70) : random.pick(Object.values(op)), random.bytes(random.below(40))))
      message = compoundMessage(xid, random.below(3), specs)
    } else {
      const template = random.pick(templates)
      message = compoundMessage(xid, template.minor, template.specs)
      const flips = 1 + random.below(6)
      for (let index = 0; index < flips; index += 1) {
        const at = 40 + random.below(Math.max(1, message.length - 40))
        if (at < message.length) message[at] = random.below(3) === 0 ? 0xff : random.below(256)
      }
      if (random.below(5) === 0) message = message.subarray(0, 40 + random.below(Math.max(1, message.length - 40)))
    }
    message.writeUInt32BE(xid, 0)
    const outcome = await Promise.race([
      client.callRaw(xid, message).then(() => 'answer', () => 'closed'),
      sleep(3000).then(() => 'hang'),
    ])
    if (outcome === 'hang') {
      t.fail(`round ${round} hung (seed ${random.seed})`)
      break
    }
    if (outcome === 'answer') answered += 1
    else {
      disconnects += 1
      client = (await h.connect(0)).rpc
    }
  }
  t.same(h.bugs.map((bug) => bug.message), [], `no server bug (seed ${random.seed})`)
  t.ok(answered > rounds / 2, `answered ${answered}, disconnected ${disconnects}`)
  const [, , again] = await setup.ok([ops.putrootfh(), ops.lookup('export'), ops.getfh()])
  t.same(again, root, 'the server still serves')
})

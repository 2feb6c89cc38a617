import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { RpcAcceptError, startRpcServer, type RpcCall, type RpcProgram } from './rpc.ts'
import { acceptStat, authStat, encodeCall, rejectStat, type DecodedReply } from './rpc-message.ts'
import { recordMark } from './rpc-record.ts'
import { silentNfsLogger } from './log.ts'
import { XdrWriter } from './xdr.ts'
import { RpcTestClient } from './testing/rpc-client.ts'
import { SeededRandom } from './testing/seeded-random.ts'

const testProgram = 400_123

/** proc 1 echo(string<64>, u32<8>) -> same; proc 2 sleep(ms) -> ms; proc 3 whoami -> uid, gid, gids, machine. */
function makeProgram(seen: RpcCall[]): RpcProgram {
  return {
    program: testProgram,
    versionLow: 1,
    versionHigh: 2,
    async handle(call) {
      seen.push(call)
      switch (call.procedure) {
        case 1: {
          const text = call.args.string(64)
          const numbers = call.args.array(8, (r) => r.u32())
          call.args.expectEnd()
          return new XdrWriter().string(text).array(numbers, (w, n) => w.u32(n))
        }
        case 2: {
          const ms = call.args.u32()
          await sleep(ms)
          return new XdrWriter().u32(ms)
        }
        case 3: {
          const credential = call.credential
          if (credential.flavor === 'none') return new XdrWriter().u32(0xffff_ffff)
          return new XdrWriter().u32(credential.uid).u32(credential.gid).array(credential.gids, (w, g) => w.u32(g)).string(credential.machineName)
        }
        case 4:
          throw new TypeError('a bug')
        default:
          throw new RpcAcceptError(acceptStat.procUnavail, `no procedure ${call.procedure}`)
      }
    },
  }
}

async function setup(t: Test, options: { inFlight?: number } = {}) {
  const bugs: Error[] = []
  const seen: RpcCall[] = []
  const server = await startRpcServer(
    { programs: [makeProgram(seen)], logger: silentNfsLogger, onBug: (error) => bugs.push(error), inFlightPerConnectionMax: options.inFlight },
    '127.0.0.1', 0,
  )
  const client = await RpcTestClient.connect(server.port)
  t.teardown(async () => {
    await client.close()
    await server.close(100)
  })
  return { server, client, bugs, seen }
}

function accepted(reply: DecodedReply): Extract<DecodedReply, { kind: 'accepted' }> {
  if (reply.kind !== 'accepted') throw new Error(`expected an accepted reply, got ${JSON.stringify(reply)}`)
  return reply
}

t.test('NULL, echo, AUTH_SYS fields, AUTH_NONE', async (t) => {
  const { client } = await setup(t)
  t.equal(accepted(await client.call(testProgram, 1, 0)).stat, acceptStat.success, 'NULL')
  const echo = accepted(await client.call(testProgram, 1, 1, new XdrWriter().string('hi').array([5, 6], (w, n) => w.u32(n))))
  t.equal(echo.stat, acceptStat.success)
  t.equal(echo.results.string(64), 'hi')
  t.same(echo.results.array(8, (r) => r.u32()), [5, 6])
  client.credential = { flavor: 'sys', stamp: 9, machineName: 'box', uid: 1000, gid: 100, gids: [4, 27] }
  const who = accepted(await client.call(testProgram, 2, 3))
  t.same([who.results.u32(), who.results.u32(), who.results.array(16, (r) => r.u32()), who.results.string(255)], [1000, 100, [4, 27], 'box'])
  const none = accepted(await client.call(testProgram, 1, 3, undefined, { flavor: 'none' }))
  t.equal(none.results.u32(), 0xffff_ffff)
})

t.test('PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH, AUTH_ERROR', async (t) => {
  const { client, bugs } = await setup(t)
  t.equal(accepted(await client.call(999, 1, 0)).stat, acceptStat.progUnavail)
  const mismatch = accepted(await client.call(testProgram, 3, 0))
  t.equal(mismatch.stat, acceptStat.progMismatch)
  t.same(mismatch.mismatch, { low: 1, high: 2 })
  t.equal(accepted(await client.call(testProgram, 1, 77)).stat, acceptStat.procUnavail)
  t.equal(accepted(await client.call(testProgram, 1, 1, new XdrWriter().u32(1000))).stat, acceptStat.garbageArgs, 'forged string length')
  t.equal(accepted(await client.call(testProgram, 1, 1, new XdrWriter().string('x').array([1], (w, n) => w.u32(n)).u32(0))).stat, acceptStat.garbageArgs, 'trailing bytes')
  t.equal(accepted(await client.call(testProgram, 1, 0, new XdrWriter().u32(1))).stat, acceptStat.garbageArgs, 'NULL takes no arguments')
  t.equal(accepted(await client.call(testProgram, 1, 4)).stat, acceptStat.systemErr)
  t.equal(bugs.length, 1, 'a TypeError in a handler is reported as a bug')

  const xid = client.nextXid()
  const badVersion = encodeCall({ xid, program: testProgram, version: 1, procedure: 0, credential: { flavor: 'none' } }).toBuffer()
  badVersion.writeUInt32BE(3, 8)
  const denied = await client.callRaw(xid, badVersion)
  t.same(denied.kind === 'denied' && [denied.rejectStat, ...denied.detail], [rejectStat.rpcMismatch, 2, 2])

  const gssXid = client.nextXid()
  const gss = new XdrWriter().u32(gssXid).u32(0).u32(2).u32(testProgram).u32(1).u32(0).u32(6).opaque(Buffer.alloc(8)).u32(0).u32(0)
  const gssReply = await client.callRaw(gssXid, gss.toBuffer())
  t.same(gssReply.kind === 'denied' && [gssReply.rejectStat, ...gssReply.detail], [rejectStat.authError, authStat.badCred])

  const badSysXid = client.nextXid()
  const badSys = new XdrWriter().u32(badSysXid).u32(0).u32(2).u32(testProgram).u32(1).u32(0).u32(1).opaque(Buffer.alloc(6)).u32(0).u32(0)
  const badSysReply = await client.callRaw(badSysXid, badSys.toBuffer())
  t.same(badSysReply.kind === 'denied' && [badSysReply.rejectStat, ...badSysReply.detail], [rejectStat.authError, authStat.badCred], 'truncated AUTH_SYS body')
})

t.test('multi-fragment records and split writes', async (t) => {
  const { client } = await setup(t)
  const xid = client.nextXid()
  const text = 'x'.repeat(60)
  const message = encodeCall({ xid, program: testProgram, version: 1, procedure: 1, credential: client.credential }, new XdrWriter().string(text).array([1, 2, 3, 4], (w, n) => w.u32(n))).toBuffer()
  const reply = accepted(await client.callRaw(xid, message, 7))
  t.equal(reply.results.string(64), text, 'a record sent as many 7-byte fragments')
})

t.test('concurrent calls finish out of order; in-flight count is bounded', async (t) => {
  const { client, seen } = await setup(t, { inFlight: 4 })
  const order: number[] = []
  const delays = [120, 10, 60, 5, 30, 1, 1, 1]
  await Promise.all(delays.map(async (ms) => {
    const reply = accepted(await client.call(testProgram, 1, 2, new XdrWriter().u32(ms)))
    order.push(reply.results.u32())
  }))
  t.not(order[0], 120, 'the slow first call did not hold the others back')
  t.same([...order].sort((a, b) => a - b), [...delays].sort((a, b) => a - b))
  t.equal(seen.length, delays.length)
})

t.test('oversized record and non-RPC bytes close the connection', async (t) => {
  const { server } = await setup(t)
  const big = await RpcTestClient.connect(server.port)
  big.sendBytes(recordMark(0x7fff_0000))
  await big.closed
  t.ok(big.isClosed, 'a record header above the limit closes the connection')
  const junk = await RpcTestClient.connect(server.port)
  junk.sendRecord(Buffer.from([1, 2, 3]))
  await junk.closed
  t.ok(junk.isClosed, 'a record too short for an RPC header closes the connection')
})

t.test('seeded garbage: every record gets an answer or a disconnect, never a crash', async (t) => {
  const { server, bugs } = await setup(t)
  const random = new SeededRandom(Number(process.env.NFS_FUZZ_SEED ?? 20240501))
  t.comment(`seed ${random.seed}`)
  const valid = encodeCall({ xid: 1, program: testProgram, version: 1, procedure: 1, credential: { flavor: 'sys', stamp: 1, machineName: 'm', uid: 1, gid: 1, gids: [1, 2] } },
    new XdrWriter().string('hello').array([1, 2], (w, n) => w.u32(n))).toBuffer()
  let answered = 0
  let disconnected = 0
  let client = await RpcTestClient.connect(server.port)
  for (let round = 0; round < 400; round += 1) {
    const message = Buffer.from(valid)
    const mutations = 1 + random.below(4)
    for (let index = 0; index < mutations; index += 1) {
      const at = 4 + random.below(message.length - 4)
      message[at] = random.below(4) === 0 ? 0xff : random.below(256)
    }
    const cut = random.below(3) === 0 ? message.subarray(0, 8 + random.below(message.length - 8)) : message
    const xid = 100_000 + round
    cut.writeUInt32BE(xid, 0)
    const outcome = await Promise.race([
      client.callRaw(xid, cut, 1 + random.below(cut.length)).then(() => 'answer', () => 'closed'),
      sleep(2000).then(() => 'hang'),
    ])
    if (outcome === 'hang') t.fail(`round ${round} hung (seed ${random.seed})`)
    if (outcome === 'answer') answered += 1
    else {
      disconnected += 1
      client = await RpcTestClient.connect(server.port)
    }
  }
  await client.close()
  t.equal(bugs.length, 0, 'no handler bug')
  t.ok(answered > 0, `answered ${answered}, disconnected ${disconnected}`)
  const fresh = await RpcTestClient.connect(server.port)
  t.equal(accepted(await fresh.call(testProgram, 1, 0)).stat, acceptStat.success, 'the server still serves')
  await fresh.close()
})

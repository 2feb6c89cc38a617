import t from 'tap'
import { generate } from 'selfsigned'
import {
  NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS, NBD_FLAG_NO_ZEROES, NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_DF, NBD_FLAG_SEND_TRIM, NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION, NBD_INFO_EXPORT, NBD_INFO_NAME, NBD_OPT_ABORT, NBD_OPT_EXPORT_NAME, NBD_OPT_GO, NBD_OPT_INFO,
  NBD_OPT_LIST, NBD_OPT_LIST_META_CONTEXT, NBD_OPT_STARTTLS, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY, NBD_REP_ERR_TLS_REQD, NBD_REP_ERR_UNKNOWN, NBD_REP_ERR_UNSUP, NBD_REP_INFO, NBD_REP_META_CONTEXT,
  NBD_REP_SERVER, NBD_CMD_BLOCK_STATUS, NBD_CMD_READ, NBD_EINVAL,
} from './protocol.ts'
import { startTestServer } from './testing/harness.ts'
import { encodeInfoRequestData, encodeMetaContextRequestData, type GoResult, type OptionReply } from './testing/raw-client.ts'

function isGo(result: GoResult | OptionReply): result is GoResult {
  return 'sizeBytes' in result
}

t.test('greeting, LIST, INFO and unknown options', async (t) => {
  const harness = await startTestServer(t)
  const client = await harness.connect()
  t.equal(await client.handshake(), NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, 'fixed newstyle with NO_ZEROES')

  const list = await client.option(NBD_OPT_LIST)
  t.same(list.map((reply) => reply.type), [NBD_REP_SERVER, NBD_REP_SERVER, NBD_REP_ACK])
  const first = list[0]?.data ?? Buffer.alloc(0)
  t.equal(first.subarray(4, 4 + first.readUInt32BE(0)).toString(), 'vol')
  t.equal(first.subarray(4 + first.readUInt32BE(0)).toString(), 'a test volume', 'description after the name')

  const info = await client.option(NBD_OPT_INFO, encodeInfoRequestData('vol', [NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE]))
  t.equal(info.at(-1)?.type, NBD_REP_ACK)
  const byType = new Map(info.filter((reply) => reply.type === NBD_REP_INFO).map((reply) => [reply.data.readUInt16BE(0), reply.data]))
  t.equal(Number(byType.get(NBD_INFO_EXPORT)?.readBigUInt64BE(2)), 8 * 1024 * 1024)
  const flags = byType.get(NBD_INFO_EXPORT)?.readUInt16BE(10) ?? 0
  t.ok(flags & NBD_FLAG_HAS_FLAGS && flags & NBD_FLAG_SEND_TRIM && flags & NBD_FLAG_CAN_MULTI_CONN)
  t.notOk(flags & NBD_FLAG_SEND_DF, 'no DF before structured replies')
  t.equal(byType.get(NBD_INFO_NAME)?.subarray(2).toString(), 'vol')
  t.equal(byType.get(NBD_INFO_DESCRIPTION)?.subarray(2).toString(), 'a test volume')
  t.same([byType.get(NBD_INFO_BLOCK_SIZE)?.readUInt32BE(2), byType.get(NBD_INFO_BLOCK_SIZE)?.readUInt32BE(10)], [512, 1024 * 1024])

  t.equal((await client.option(NBD_OPT_INFO, encodeInfoRequestData('nope', [])))[0]?.type, NBD_REP_ERR_UNKNOWN)
  t.equal((await client.option(0x42, Buffer.from('whatever')))[0]?.type, NBD_REP_ERR_UNSUP, 'unknown option')
  t.equal((await client.option(11))[0]?.type, NBD_REP_ERR_UNSUP, 'extended headers are not supported')
  t.equal((await client.option(NBD_OPT_STARTTLS))[0]?.type, NBD_REP_ERR_UNSUP, 'no TLS configured')
  t.equal((await client.option(NBD_OPT_LIST, Buffer.from('x')))[0]?.type, NBD_REP_ERR_INVALID, 'LIST with data')
  t.equal((await client.option(NBD_OPT_STRUCTURED_REPLY, Buffer.from('x')))[0]?.type, NBD_REP_ERR_INVALID)
  t.equal((await client.option(NBD_OPT_GO, Buffer.from([0, 0, 0, 9, 1])))[0]?.type, NBD_REP_ERR_INVALID, 'malformed GO')
  t.equal((await client.option(NBD_OPT_ABORT))[0]?.type, NBD_REP_ACK)
  await client.closed
  t.same(harness.bugs, [])
})

t.test('meta contexts', async (t) => {
  const harness = await startTestServer(t)
  const client = await harness.connect()
  await client.handshake()
  const names = (replies: OptionReply[]): string[] => replies.filter((reply) => reply.type === NBD_REP_META_CONTEXT).map((reply) => reply.data.subarray(4).toString())
  t.equal((await client.setMetaContext('vol', ['base:allocation']))[0]?.type, NBD_REP_ERR_INVALID, 'structured replies first')
  await client.negotiateStructured()
  const list = (queries: string[]) => client.option(NBD_OPT_LIST_META_CONTEXT, encodeMetaContextRequestData('vol', queries))
  t.same(names(await list([])), ['base:allocation'], 'no query lists everything')
  t.same(names(await list(['base:'])), ['base:allocation'], 'base: is a wildcard when listing')
  t.same(names(await list(['qemu:dirty-bitmap:x', 'base:other'])), [], 'unknown contexts are ignored')
  t.equal((await list(['nocolon'])).at(-1)?.type, NBD_REP_ERR_INVALID)
  t.equal((await client.setMetaContext('missing', ['base:allocation'])).at(-1)?.type, NBD_REP_ERR_UNKNOWN)
  t.same(names(await client.setMetaContext('vol', ['base:'])), [], 'base: selects nothing in SET')
  const set = await client.setMetaContext('vol', ['base:allocation'])
  t.same(names(set), ['base:allocation'])
  t.not(set[0]?.data.readUInt32BE(0), 0, 'a context id')
  // SET_META_CONTEXT named 'vol' but GO picks 'snap': block status must be refused.
  const go = await client.go('snap')
  t.ok(isGo(go) && go.transmissionFlags & NBD_FLAG_READ_ONLY && go.transmissionFlags & NBD_FLAG_SEND_DF)
  const reply = await client.request({ type: NBD_CMD_BLOCK_STATUS, offsetBytes: 0, lengthBytes: 4096 })
  t.equal(reply.errno, NBD_EINVAL, 'no context for the export entered')
  t.match(reply.message, /metadata context/)
})

t.test('NBD_OPT_EXPORT_NAME with and without NO_ZEROES', async (t) => {
  const harness = await startTestServer(t)
  for (const noZeroes of [true, false]) {
    const client = await harness.connect()
    await client.handshake(NBD_FLAG_C_FIXED_NEWSTYLE | (noZeroes ? NBD_FLAG_C_NO_ZEROES : 0))
    client.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('vol'))
    const reply = await client.reader.readExactly(10 + (noZeroes ? 0 : 124))
    t.equal(Number(reply.readBigUInt64BE(0)), 8 * 1024 * 1024)
    if (!noZeroes) t.ok(reply.subarray(10).every((byte) => byte === 0), '124 zeroes')
    client.startReplies()
    const read = await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 512 })
    t.equal(read.errno, 0)
    t.ok(read.simple, 'simple replies without negotiation')
    client.close()
  }
  const unknown = await harness.connect()
  await unknown.handshake()
  unknown.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('nope'))
  await unknown.closed
  t.pass('EXPORT_NAME of an unknown export is a disconnect')
})

t.test('garbage in the handshake is a clean disconnect', async (t) => {
  const harness = await startTestServer(t, { limits: { handshakeTimeoutMs: 300, optionDataMaxBytes: 1024 } })
  const cases: Array<[string, (client: Awaited<ReturnType<typeof harness.connect>>) => Promise<void>]> = [
    ['unknown client flags', async (client) => void (await client.handshake(0x80))],
    ['bad option magic', async (client) => {
      await client.handshake()
      client.write(Buffer.alloc(16, 0x41))
    }],
    ['oversized option data', async (client) => {
      await client.handshake()
      const header = Buffer.alloc(16)
      Buffer.from('IHAVEOPT').copy(header)
      header.writeUInt32BE(NBD_OPT_GO, 8)
      header.writeUInt32BE(0xffffffff, 12)
      client.write(header)
    }],
    ['silence (handshake timeout)', async () => undefined],
    ['a half-sent option (handshake timeout)', async (client) => {
      await client.handshake()
      client.write(Buffer.from('IHAVE'))
    }],
  ]
  for (const [name, act] of cases) {
    const client = await harness.connect()
    await act(client)
    await client.closed
    t.pass(name)
  }
  t.same(harness.bugs, [])
  t.equal(harness.provider.volume('vol').counters.opens, 0)
})

t.test('a second client of an attached volume is refused; the same client may reconnect', async (t) => {
  const harness = await startTestServer(t)
  const first = await harness.connect('tcp')
  await first.handshake()
  t.ok(isGo(await first.go('vol')))
  const again = await harness.connect('tcp')
  await again.handshake()
  t.ok(isGo(await again.go('vol')), 'same client key (peer address): a second connection is fine')
  const other = await harness.connect('unix')
  await other.handshake()
  const refused = await other.go('vol')
  t.equal(isGo(refused) ? 0 : refused.type, NBD_REP_ERR_POLICY)
  t.match(isGo(refused) ? '' : refused.data.toString(), /attached by another client/)
  t.ok(isGo(await other.go('snap')), 'the option phase goes on after a refusal')
})

t.test('STARTTLS', async (t) => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' })
  const harness = await startTestServer(t, { tls: { cert: pems.cert, key: pems.private } })
  const client = await harness.connect()
  await client.handshake()
  t.equal((await client.option(NBD_OPT_LIST))[0]?.type, NBD_REP_ERR_TLS_REQD, 'TLS required: LIST refused')
  t.equal((await client.option(NBD_OPT_GO, encodeInfoRequestData('vol', [])))[0]?.type, NBD_REP_ERR_TLS_REQD)
  t.equal((await client.option(NBD_OPT_STRUCTURED_REPLY))[0]?.type, NBD_REP_ERR_TLS_REQD)
  t.equal((await client.option(NBD_OPT_STARTTLS, Buffer.from('x')))[0]?.type, NBD_REP_ERR_INVALID, 'STARTTLS with data')
  t.equal((await client.option(NBD_OPT_STARTTLS))[0]?.type, NBD_REP_ACK)
  await client.startTls()
  t.equal((await client.option(NBD_OPT_STARTTLS))[0]?.type, NBD_REP_ERR_INVALID, 'already TLS')
  await client.negotiateStructured()
  await client.setMetaContext('vol', ['base:allocation'])
  const go = await client.go('vol')
  t.ok(isGo(go) && go.transmissionFlags & NBD_FLAG_SEND_DF)
  const status = await client.request({ type: NBD_CMD_BLOCK_STATUS, offsetBytes: 0, lengthBytes: 4096 })
  t.equal(status.errno, 0, 'block status over TLS')

  const plain = await harness.connect()
  await plain.handshake()
  plain.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('vol'))
  await plain.closed
  t.pass('EXPORT_NAME without TLS on a TLS-only server is a disconnect')

  const optional = await startTestServer(t, { tls: { cert: pems.cert, key: pems.private, required: false } })
  const relaxed = await optional.connect()
  await relaxed.handshake()
  await relaxed.negotiateStructured()
  t.equal((await relaxed.option(NBD_OPT_STARTTLS))[0]?.type, NBD_REP_ACK, 'TLS optional: STARTTLS after other options')
  await relaxed.startTls()
  t.equal((await relaxed.setMetaContext('vol', ['base:allocation'])).at(-1)?.type, NBD_REP_ERR_INVALID, 'structured replies were forgotten at STARTTLS')
  const plainOptional = await optional.connect()
  await plainOptional.handshake()
  t.ok(isGo(await plainOptional.go('vol')), 'TLS optional: plaintext GO works')
  t.same([...harness.bugs, ...optional.bugs], [])
})

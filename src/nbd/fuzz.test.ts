// Protocol fuzz: seeded random sessions (valid messages, mutated ones, truncated streams and pure
// garbage, sent in random pieces) against a live server. Properties: no bug is reported and no
// exception escapes; every connection ends up answered, closed, or waiting for more input (and
// then closed by the handshake timeout or by us); every export opened is released exactly once;
// the server still serves a well-behaved client afterwards. Replay: CAIRN_TEST_SEED=<seed>.
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { SeededRandom, seedFrom, StoreError } from '../lib/index.ts'
import {
  IHAVEOPT, NBD_CMD_READ, NBD_CMD_WRITE, NBD_INFO_BLOCK_SIZE, NBD_INFO_NAME, NBD_OPT_ABORT, NBD_OPT_EXPORT_NAME, NBD_OPT_GO,
  NBD_OPT_INFO, NBD_OPT_LIST, NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT, NBD_OPT_STARTTLS, NBD_OPT_STRUCTURED_REPLY,
} from './protocol.ts'
import { generate } from 'selfsigned'
import type { NbdTlsOptions } from './server.ts'
import { eventually, startTestServer } from './testing/harness.ts'
import { encodeInfoRequestData, encodeMetaContextRequestData, encodeRequest } from './testing/raw-client.ts'

const seed = seedFrom(process.env.CAIRN_TEST_SEED)
const cases = Number(process.env.CAIRN_FUZZ_CASES ?? 400)
const batch = 25
const exportSize = 8 * 1024 * 1024

t.comment(`seed ${seed} (replay with CAIRN_TEST_SEED=${seed})`)

function option(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(16)
  header.writeBigUInt64BE(IHAVEOPT, 0)
  header.writeUInt32BE(code, 8)
  header.writeUInt32BE(data.length, 12)
  return Buffer.concat([header, data])
}

function pick<T>(random: SeededRandom, values: readonly T[]): T {
  return values[random.int(values.length)] as T
}

function randomOption(random: SeededRandom): Buffer {
  const name = pick(random, ['vol', 'snap', 'missing', ''])
  switch (random.int(10)) {
    case 0: return option(NBD_OPT_LIST)
    case 1: return option(NBD_OPT_STRUCTURED_REPLY)
    case 2: return option(NBD_OPT_INFO, encodeInfoRequestData(name, [NBD_INFO_NAME, NBD_INFO_BLOCK_SIZE]))
    case 3: return option(NBD_OPT_SET_META_CONTEXT, encodeMetaContextRequestData(name, pick(random, [['base:allocation'], ['base:'], [], ['x']])))
    case 4: return option(NBD_OPT_LIST_META_CONTEXT, encodeMetaContextRequestData(name, []))
    case 5: return option(NBD_OPT_STARTTLS)
    case 6: return option(random.int(40), random.bytes(random.int(40)))
    case 7: return option(NBD_OPT_ABORT)
    default: {
      // A valid header whose length disagrees with the data that follows.
      const data = random.bytes(random.int(30))
      const bytes = option(pick(random, [NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST_META_CONTEXT]), data)
      bytes.writeUInt32BE(random.int(64), 12)
      return bytes
    }
  }
}

function randomRequest(random: SeededRandom): Buffer {
  const type = random.int(3) === 0 ? random.int(12) : pick(random, [NBD_CMD_READ, NBD_CMD_WRITE, 3, 4, 5, 6, 7])
  const offset = pick(random, [0n, 4096n, BigInt(exportSize - 512), BigInt(exportSize), 2n ** 63n, BigInt(random.int(exportSize))])
  const length = pick(random, [0, 512, 4096, 65536, 1 << 20, 2 << 20, random.int(1 << 16)])
  const flags = random.int(4) === 0 ? random.int(1 << 16) : random.int(32)
  const header = encodeRequest({ type, flags, offsetBytes: offset, lengthBytes: length }, BigInt(random.int(2 ** 31)))
  if (type !== NBD_CMD_WRITE) return header
  // Usually the payload the header promises; sometimes less (the stream then desynchronises).
  const payloadBytes = random.int(5) === 0 ? random.int(length + 1) : length
  return Buffer.concat([header, Buffer.alloc(payloadBytes, 0xa5)])
}

function randomSession(random: SeededRandom): Buffer {
  const parts: Buffer[] = []
  const flags = Buffer.alloc(4)
  flags.writeUInt32BE(pick(random, [3, 3, 3, 1, 0, 2, random.int(2 ** 32)]))
  parts.push(flags)
  for (let index = random.int(4); index > 0; index -= 1) parts.push(randomOption(random))
  if (random.int(4) !== 0) {
    parts.push(option(NBD_OPT_STRUCTURED_REPLY), option(NBD_OPT_SET_META_CONTEXT, encodeMetaContextRequestData('vol', ['base:allocation'])))
    parts.push(random.int(4) === 0 ? option(NBD_OPT_EXPORT_NAME, Buffer.from('vol')) : option(NBD_OPT_GO, encodeInfoRequestData(pick(random, ['vol', 'snap']), [])))
    for (let index = random.int(8); index > 0; index -= 1) parts.push(randomRequest(random))
  }
  let stream = Buffer.concat(parts)
  switch (random.int(5)) {
    case 0: return random.bytes(random.int(200)) // pure garbage
    case 1: return stream.subarray(0, random.int(stream.length + 1)) // truncated
    case 2: {
      stream = Buffer.from(stream)
      for (let flips = 1 + random.int(4); flips > 0; flips -= 1) {
        const at = random.int(stream.length)
        stream[at] = (stream[at] ?? 0) ^ (1 << random.int(8))
      }
      return stream
    }
    default: return stream
  }
}

/** Send bytes in random pieces; resolve when the server closed, or was quiet for quietMs. */
function play(port: number, bytes: Buffer, random: SeededRandom): Promise<'closed' | 'waiting'> {
  const pieces: Buffer[] = []
  for (let at = 0; at < bytes.length;) {
    const step = 1 + random.int(Math.max(1, Math.min(bytes.length - at, 4096)))
    pieces.push(bytes.subarray(at, at + step))
    at += step
  }
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let quiet: NodeJS.Timeout | undefined
    const settle = (outcome: 'closed' | 'waiting'): void => {
      clearTimeout(quiet)
      socket.destroy()
      resolve(outcome)
    }
    const rearm = (): void => {
      clearTimeout(quiet)
      quiet = setTimeout(() => settle('waiting'), 150)
    }
    socket.on('error', () => undefined) // resets are an allowed outcome; 'close' follows
    socket.on('close', () => settle('closed'))
    socket.on('data', rearm)
    socket.on('connect', () => {
      for (const piece of pieces) socket.write(piece)
      rearm()
    })
  })
}

t.test('random and mutated sessions never break the server', async (t) => {
  await fuzz(t, seed, cases, undefined)
})

t.test('the same with TLS configured (STARTTLS followed by garbage instead of a TLS handshake)', async (t) => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' })
  await fuzz(t, seed + 7, Math.ceil(cases / 4), { cert: pems.cert, key: pems.private, required: false })
})

async function fuzz(t: Test, seed: number, cases: number, tls: NbdTlsOptions | undefined): Promise<void> {
  const random = new SeededRandom(seed)
  const harness = await startTestServer(t, { limits: { handshakeTimeoutMs: 500, inFlightRequestsMax: 4 }, tls })
  const faults = new SeededRandom(seed + 1)
  for (const name of ['vol', 'snap']) {
    harness.provider.volume(name).hook = async (_operation, _offset, _length, signal) => {
      const roll = faults.int(20)
      if (roll === 0) throw new StoreError('IO_ERROR', 'injected')
      if (roll < 4) await new Promise((resolve) => setTimeout(resolve, roll))
      if (signal.aborted) throw new StoreError('ABORTED', 'aborted')
    }
  }
  const outcomes = { closed: 0, waiting: 0 }
  for (let done = 0; done < cases; done += batch) {
    const runs = Array.from({ length: Math.min(batch, cases - done) }, () => play(harness.port, randomSession(random), random))
    for (const outcome of await Promise.all(runs)) outcomes[outcome] += 1
  }
  t.comment(`outcomes: ${JSON.stringify(outcomes)}`)
  await eventually(() => harness.server.connectionCount === 0, 10_000)
  t.same(harness.bugs.map((bug) => bug.stack), [], `no bugs (seed ${seed})`)
  for (const name of ['vol', 'snap']) {
    const { opens, releases } = harness.provider.volume(name).counters
    t.equal(releases, opens, `${name}: every open released exactly once (${opens})`)
    harness.provider.volume(name).hook = undefined
  }

  // Still healthy.
  const client = await harness.connect()
  await client.handshake()
  await client.negotiateStructured()
  const go = await client.go('vol')
  t.ok('sizeBytes' in go, 'a normal client still connects')
  t.equal((await client.request({ type: NBD_CMD_READ, offsetBytes: 0, lengthBytes: 4096 })).errno, 0)
}

// Large-object client of the s3 benchmark (helper of bench/s3.ts, not a benchmark on its own): streamed PUTs/GETs to presigned URLs
//
// Run: node bench/s3-stream.ts INPUT.json, where INPUT is {"transfers":[{"method":"PUT","url":
// "...","bytes":N,"seed":S} | {"method":"GET","url":"..."}]}. Every transfer starts at once;
// when all have ended it prints {"results":[{status,bytes,startMs,endMs,error?}]} (times in ms
// since the epoch, so reports of several processes line up).
// PUT bodies are generated while sending, 1 MiB at a time: random bytes from a 16 MiB pool with
// (seed, offset) stamped every 4 KiB, so no two 4 KiB blocks of any two transfers are equal and a
// deduplicating store must write them all; the data is incompressible. A few 1 MiB buffers per
// transfer are reused, each only after the socket took the previous bytes from it.
// GET bodies are counted and dropped.
// Never: buffers a body; reports a transfer as done before its response ended.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request, type ClientRequest, type IncomingMessage } from 'node:http'

interface Transfer {
  method: 'PUT' | 'GET'
  url: string
  bytes?: number
  seed?: number
}

interface Result {
  status: number
  bytes: number
  startMs: number
  endMs: number
  error?: string
}

const blockBytes = 1024 * 1024
const stampEveryBytes = 4096
const pool = randomBytes(16 * blockBytes)
const nowMs = (): number => performance.timeOrigin + performance.now()

function fill(buffer: Buffer, offset: number, length: number, seed: number): Buffer {
  const poolOffset = offset % pool.length
  pool.copy(buffer, 0, poolOffset, poolOffset + length)
  for (let at = 0; at + 16 <= length; at += stampEveryBytes) {
    buffer.writeUInt32LE(seed, at)
    buffer.writeDoubleLE(offset + at, at + 4)
    buffer.writeUInt32LE(0x5eed, at + 12)
  }
  return length === buffer.length ? buffer : buffer.subarray(0, length)
}

/** The response, its body counted and dropped. */
function responseOf(outgoing: ClientRequest): Promise<{ status: number; bytes: number; message: string }> {
  return new Promise((resolve, reject) => {
    outgoing.once('error', reject)
    outgoing.once('response', (response: IncomingMessage) => {
      let bytes = 0
      let message = ''
      response.on('data', (piece: Buffer) => {
        bytes += piece.length
        if (message.length < 300 && (response.statusCode ?? 0) >= 300) message += piece.toString('utf8', 0, 300)
      })
      response.once('end', () => resolve({ status: response.statusCode ?? 0, bytes, message }))
      response.once('error', reject)
    })
  })
}

async function put(transfer: Transfer): Promise<Result> {
  const startMs = nowMs()
  const total = transfer.bytes ?? 0
  const outgoing = request(transfer.url, { method: 'PUT', headers: { 'content-length': String(total) } })
  let answered = false
  const response = responseOf(outgoing).finally(() => (answered = true))
  response.catch(() => undefined)
  const ring = Array.from({ length: 4 }, () => ({ buffer: Buffer.allocUnsafe(blockBytes), free: Promise.resolve() }))
  let offset = 0
  for (let index = 0; offset < total && !answered; index++) {
    const slot = ring[index % ring.length]!
    await Promise.race([slot.free, response])
    if (answered) break
    const piece = fill(slot.buffer, offset, Math.min(blockBytes, total - offset), transfer.seed ?? 0)
    offset += piece.length
    slot.free = new Promise((resolve) => outgoing.write(piece, () => resolve()))
    if (outgoing.writableNeedDrain) await Promise.race([new Promise((resolve) => outgoing.once('drain', resolve)), response])
  }
  if (!answered) outgoing.end()
  try {
    const { status, message } = await response
    return { status, bytes: offset, startMs, endMs: nowMs(), ...(status >= 300 ? { error: message } : {}) }
  } catch (error) {
    return { status: 0, bytes: offset, startMs, endMs: nowMs(), error: (error as Error).message }
  }
}

async function get(transfer: Transfer): Promise<Result> {
  const startMs = nowMs()
  const outgoing = request(transfer.url, { method: 'GET' })
  outgoing.end()
  try {
    const { status, bytes, message } = await responseOf(outgoing)
    return { status, bytes, startMs, endMs: nowMs(), ...(status >= 300 ? { error: message } : {}) }
  } catch (error) {
    return { status: 0, bytes: 0, startMs, endMs: nowMs(), error: (error as Error).message }
  }
}

async function main(inputPath: string | undefined): Promise<void> {
  if (inputPath === undefined) throw new TypeError('usage: node bench/s3-stream.ts INPUT.json')
  const { transfers } = JSON.parse(await readFile(inputPath, 'utf8')) as { transfers: Transfer[] }
  const results = await Promise.all(transfers.map((transfer) => (transfer.method === 'PUT' ? put(transfer) : get(transfer))))
  process.stdout.write(JSON.stringify({ results }))
}

if (import.meta.main) await main(process.argv[2])

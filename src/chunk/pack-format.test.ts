import t from 'tap'
import { randomBytes } from 'node:crypto'
import { chunkIdFrom, type KeyDomainId, type PackId } from '../lib/index.ts'
import {
  codecCompressed,
  codecSealed,
  decodeFrameHeader,
  decodeIndex,
  decodePackHeader,
  decodeTrailer,
  encodeFrameHeader,
  encodePackHeader,
  encodeSeal,
  frameBytesOf,
  frameCrcMatches,
  frameHeaderBytes,
  packFileName,
  packHeaderBytes,
  packIdFromFileName,
  trailerBytes,
  type IndexEntry,
} from './pack-format.ts'

t.test('pack file names carry 16 hex digits', async (t) => {
  t.equal(packFileName(42 as PackId), '000000000000002a.pack')
  t.equal(packIdFromFileName('000000000000002a.pack'), 42)
  t.equal(packIdFromFileName('000000000000002A.pack'), undefined)
  t.equal(packIdFromFileName('0000000000000000.pack'), undefined)
  t.equal(packIdFromFileName('2a.pack'), undefined)
  t.equal(packIdFromFileName('000000000000002a.pack.tmp'), undefined)
})

t.test('pack header round trip and checks', async (t) => {
  const bytes = encodePackHeader({ packId: 7 as PackId, hashAlgorithmCode: 2, createdMs: 1_700_000_000_123 })
  t.equal(bytes.length, packHeaderBytes)
  t.equal(bytes.subarray(0, 8).toString('ascii'), 'CAIRNPAK')
  t.equal(bytes[8], 1, 'version byte')
  t.same(decodePackHeader(bytes), { packId: 7, hashAlgorithmCode: 2, createdMs: 1_700_000_000_123 })
  for (let at = 0; at < packHeaderBytes; at += 1) {
    const damaged = Buffer.from(bytes)
    damaged[at] = (damaged[at] as number) ^ 0x10
    t.equal(decodePackHeader(damaged), undefined, `flip in byte ${at} is caught`)
  }
})

t.test('frame header round trip, CRC over header and payload', async (t) => {
  const payload = randomBytes(1000)
  const info = { id: chunkIdFrom(randomBytes(32)), codec: codecCompressed | codecSealed, domain: 9 as KeyDomainId, plainBytes: 4000, storedBytes: 1000 }
  const header = encodeFrameHeader(info, [payload.subarray(0, 10), payload.subarray(10)])
  t.equal(header.length, frameHeaderBytes)
  const decoded = decodeFrameHeader(header)
  t.ok(decoded.ok)
  if (decoded.ok) t.same(decoded.info, info)
  t.ok(frameCrcMatches(header, payload))
  const flipped = Buffer.from(payload)
  flipped[500] = (flipped[500] as number) ^ 1
  t.notOk(frameCrcMatches(header, flipped), 'payload flip fails the CRC')
  const badFlags = Buffer.from(header)
  badFlags[5] = 0x04
  t.same(decodeFrameHeader(badFlags), { ok: false, reason: 'bad frame flags' })
  const sealedPlain = encodeFrameHeader({ ...info, codec: 0, domain: 0 as KeyDomainId }, [payload])
  sealedPlain[5] = codecSealed
  t.equal(decodeFrameHeader(sealedPlain).ok, false, 'a sealed frame needs an encrypted domain')
  t.equal(decodeFrameHeader(header.subarray(0, 20)).ok, false)
})

t.test('index and trailer round trip', async (t) => {
  const entries: IndexEntry[] = []
  let offset = packHeaderBytes
  for (let at = 0; at < 5; at += 1) {
    const storedBytes = 100 + at
    entries.push({ id: chunkIdFrom(randomBytes(32)), offset, storedBytes, plainBytes: 200, codec: codecCompressed, domain: 0 as KeyDomainId })
    offset += frameBytesOf(storedBytes)
  }
  const [index, trailer] = encodeSeal(entries, offset) as [Buffer, Buffer]
  t.equal(trailer.length, trailerBytes)
  const fileBytes = offset + index.length + trailer.length
  const decoded = decodeTrailer(trailer, fileBytes)
  t.same(decoded && { entryCount: decoded.entryCount, indexOffset: decoded.indexOffset }, { entryCount: 5, indexOffset: offset })
  t.same(decodeIndex(index, offset), entries)
  t.equal(decodeTrailer(trailer, fileBytes + 1), undefined, 'the size equation must hold')
  t.equal(decodeIndex(index, offset + 1), undefined, 'entries must end at the index offset')
  const damaged = Buffer.from(trailer)
  damaged[13] = (damaged[13] as number) ^ 1
  t.equal(decodeTrailer(damaged, fileBytes), undefined)
})

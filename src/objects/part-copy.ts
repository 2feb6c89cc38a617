// UploadPartCopy: a part made of (a byte range of) another object's chunks. Chunks wholly
// inside the range are referenced as they are; a chunk cut by a range edge is read, sliced and
// put again as a new chunk (at most two per part). The part's ETag is the MD5 of its bytes, so
// those are read (verified) unless the part is a whole single-part object, whose ETag is its MD5.
import { createChecksum, toBase64 } from '../lib/checksum/index.ts'
import { objectLimits, throwIfAborted } from '../lib/index.ts'
import type { ChunkReference, UploadRecord, VersionRecord } from '../model/index.ts'
import type { CopySource, PartInfo, Principal } from './api.ts'
import type { ResolvedRange } from './conditions.ts'
import { tierOf, type ObjectsContext } from './context.ts'
import { resolveCopySource } from './copy.ts'
import { invalidArgument } from './errors.ts'
import { commitPart, partInfo, uploadForPart } from './multipart.ts'
import { piecesOfVersion, readVersion } from './reader.ts'

export interface UploadPartCopyInput {
  bucket: string
  key: string
  uploadId: string
  partNumber: number
  principal: Principal
  source: CopySource
  signal: AbortSignal
}

export function copyRange(source: CopySource, record: VersionRecord): ResolvedRange | undefined {
  const size = record.sizeBytes
  if (source.range === undefined) {
    if (size > objectLimits.partBytesMax) {
      throw invalidArgument('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${objectLimits.partBytesMax}`)
    }
    return size === 0 ? undefined : { first: 0, last: size - 1 }
  }
  const { first, last } = source.range
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last < first || last >= size) {
    throw invalidArgument('InvalidArgument', `Range specified is not valid for source object of size: ${size}`)
  }
  if (last - first + 1 > objectLimits.partBytesMax) throw invalidArgument('InvalidArgument', `a copied part is at most ${objectLimits.partBytesMax} bytes`)
  return { first, last }
}

/** Put bytes as a new chunk (an edge slice or a small inline source), inside the ingest budget. */
async function putSlice(context: ObjectsContext, bytes: Buffer, upload: UploadRecord, signal: AbortSignal): Promise<ChunkReference> {
  await context.budget.acquire(bytes.length, signal)
  try {
    const put = await context.chunkStore.put(bytes, { tier: tierOf(upload.storageClass), signal })
    return { id: put.id, sizeBytes: bytes.length }
  } finally {
    context.budget.release(bytes.length)
  }
}

async function partChunks(context: ObjectsContext, record: VersionRecord, range: ResolvedRange | undefined, upload: UploadRecord, signal: AbortSignal): Promise<ChunkReference[]> {
  if (range === undefined) return []
  if (record.data.kind === 'inline') return [await putSlice(context, Buffer.from(record.data.bytes.subarray(range.first, range.last + 1)), upload, signal)]
  const chunks: ChunkReference[] = []
  for await (const piece of piecesOfVersion(context.meta, record, range)) {
    throwIfAborted(signal)
    if (piece.begin === 0 && piece.end === piece.chunk.sizeBytes) {
      chunks.push(piece.chunk)
      continue
    }
    const plain = await context.chunkStore.get(piece.chunk.id, { signal })
    chunks.push(await putSlice(context, Buffer.from(plain.subarray(piece.begin, piece.end)), upload, signal))
  }
  return chunks
}

/** MD5 (and the upload's checksum) of the copied bytes; no read for a whole single-part source. */
async function partDigests(context: ObjectsContext, record: VersionRecord, range: ResolvedRange | undefined, upload: UploadRecord, signal: AbortSignal): Promise<{ md5Hex: string; checksum?: string }> {
  const whole = range === undefined || (range.first === 0 && range.last === record.sizeBytes - 1)
  if (whole && !record.etag.includes('-') && upload.checksumAlgorithm === undefined) return { md5Hex: record.etag }
  const md5 = createChecksum('MD5')
  const checksum = upload.checksumAlgorithm === undefined ? undefined : createChecksum(upload.checksumAlgorithm)
  if (range !== undefined) {
    for await (const piece of readVersion(context, record, range, signal)) {
      md5.update(piece)
      checksum?.update(piece)
    }
  }
  return { md5Hex: md5.digest().toString('hex'), ...(checksum === undefined ? {} : { checksum: toBase64(checksum.digest()) }) }
}

export async function uploadPartCopy(context: ObjectsContext, input: UploadPartCopyInput): Promise<PartInfo> {
  const upload = await uploadForPart(context, input)
  const source = await resolveCopySource(context, input.principal, input.source)
  const range = copyRange(input.source, source.record)
  const digests = await partDigests(context, source.record, range, upload, input.signal)
  const chunks = await partChunks(context, source.record, range, upload, input.signal)
  const sizeBytes = range === undefined ? 0 : range.last - range.first + 1
  const record = await commitPart(context, input, {
    partNumber: input.partNumber,
    etag: digests.md5Hex,
    sizeBytes,
    ...(digests.checksum === undefined ? {} : { checksum: digests.checksum }),
  }, chunks, input.signal)
  return partInfo(record, upload)
}

// Copies that must move bytes because of encryption (docs/encryption.md 4). CopyObject and
// UploadPartCopy normally reference the source's chunks (copy.ts, part-copy.ts); that is only
// right when the stored bytes can stay as they are:
//   - source or target SSE-C: the ciphertext depends on the version's own salt and key;
//   - target SSE-S3/KMS and a source that is not sealed in a key domain: plaintext chunks
//     (or inline bytes) would stay plaintext;
//   - UploadPartCopy into an encrypted upload, or from an encrypted source: an edge slice would
//     be put again in the plain domain.
// Then the source is read (decrypted with its customer key if SSE-C, verified by the chunk
// store) and written as a new version or part through the normal write path, which encrypts it
// as the target asks. The MD5 and checksum are computed over the plaintext as it streams.
// Never: buffer a whole source; skip the source key check.
import { createChecksum, toBase64 } from '../lib/checksum/index.ts'
import type { ChecksumAlgorithm, CopyObjectInput, PartInfo, PutObjectResult, VersionId } from './api.ts'
import type { ObjectsContext } from './context.ts'
import type { ResolvedVersion } from './read.ts'
import { readVersion } from './reader.ts'
import { readDecryption, type WriteEncryption } from './sse.ts'
import type { StoredEncryption, VersionRecord } from '../model/index.ts'
import { putObject } from './write.ts'
import { uploadPart } from './multipart.ts'
import { copyRange, uploadPartCopy, type UploadPartCopyInput } from './part-copy.ts'
import { uploadForPart } from './multipart.ts'
import { resolveCopySource } from './copy.ts'

const domainSealed = (stored: StoredEncryption | undefined): boolean => stored?.kind === 'SSE-S3' || stored?.kind === 'SSE-KMS'

/** Whether CopyObject must rewrite the data for the target's encryption. */
export function copyNeedsData(source: VersionRecord, target: WriteEncryption): boolean {
  if (source.encryption?.kind === 'SSE-C' || target.stored?.kind === 'SSE-C') return true
  // A customer-key SSE-KMS target has its own data key; such a source is rewritten for any
  // target that asks for encryption (copied without one, it keeps its envelope: copy.ts).
  if (hasEnvelope(target.stored) || (hasEnvelope(source.encryption) && target.stored !== undefined)) return true
  return domainSealed(target.stored) && !domainSealed(source.encryption)
}

const hasEnvelope = (stored: StoredEncryption | undefined): boolean => stored?.kind === 'SSE-KMS' && stored.envelope !== undefined

/**
 * A reference copy of a customer-key SSE-KMS source keeps the source's wrapped data key; the
 * source must still be readable, as for a copy that reads it (KMS.DisabledException otherwise).
 */
export async function checkSourceKeyUsable(context: ObjectsContext, source: VersionRecord): Promise<void> {
  await readDecryption(context, source, undefined, true)
}

/**
 * The encryption a reference copy records: the target's kind, with the key domain the shared
 * chunks really are in; an SSE-S3/KMS source copied without a request keeps its own.
 */
export function referenceCopyEncryption(source: VersionRecord, target: WriteEncryption): StoredEncryption | undefined {
  const stored = target.stored
  if (stored === undefined) return domainSealed(source.encryption) ? source.encryption : undefined
  if ((stored.kind === 'SSE-S3' || stored.kind === 'SSE-KMS') && (source.encryption?.kind === 'SSE-S3' || source.encryption?.kind === 'SSE-KMS')) {
    return { ...stored, domain: source.encryption.domain }
  }
  return stored
}

/** The plaintext of a source range with MD5 and an optional checksum computed as it passes. */
function digestingBody(body: AsyncIterable<Buffer>, algorithm: ChecksumAlgorithm | undefined) {
  const md5 = createChecksum('MD5')
  const checksum = algorithm === undefined ? undefined : createChecksum(algorithm)
  async function* stream(): AsyncGenerator<Uint8Array> {
    for await (const piece of body) {
      md5.update(piece)
      checksum?.update(piece)
      yield piece
    }
  }
  return {
    stream: stream(),
    digests: async () => ({
      md5Hex: md5.digest().toString('hex'),
      ...(checksum === undefined || algorithm === undefined ? {} : { checksum: { algorithm, type: 'FULL_OBJECT' as const, value: toBase64(checksum.digest()) } }),
    }),
  }
}

export async function copyObjectByData(
  context: ObjectsContext,
  input: CopyObjectInput,
  source: ResolvedVersion,
): Promise<PutObjectResult & { lastModifiedMs: number; sourceVersionId?: VersionId }> {
  const record = source.record
  const decrypt = await readDecryption(context, record, input.source.customerKey, true)
  const body = digestingBody(decrypt(readVersion(context, record, undefined, input.signal), undefined), input.checksumAlgorithm ?? record.checksum?.algorithm)
  const replaceMetadata = input.metadataDirective === 'REPLACE'
  const result = await putObject(context, {
    bucket: input.bucket,
    key: input.key,
    principal: input.principal,
    body: body.stream,
    sizeBytes: record.sizeBytes,
    digests: async () => {
      const digests = await body.digests()
      return digests.checksum === undefined ? { md5Hex: digests.md5Hex } : { md5Hex: digests.md5Hex, checksum: digests.checksum }
    },
    contentHeaders: replaceMetadata ? { ...(input.contentHeaders ?? {}) } : { ...record.contentHeaders },
    userMetadata: replaceMetadata ? { ...(input.userMetadata ?? {}) } : { ...record.userMetadata },
    tags: input.taggingDirective === 'REPLACE' ? [...(input.tags ?? [])] : record.tags.map((tag) => ({ ...tag })),
    ...(input.storageClass === undefined ? {} : { storageClass: input.storageClass }),
    ...(input.encryption === undefined ? {} : { encryption: input.encryption }),
    signal: input.signal,
  })
  return {
    ...result,
    lastModifiedMs: context.clock.nowMs(),
    ...(source.bucket.versioning === 'Unversioned' ? {} : { sourceVersionId: record.versionId }),
  }
}

/** UploadPartCopy: by reference when nothing is encrypted, else through uploadPart. */
export async function uploadPartCopyWithEncryption(context: ObjectsContext, input: UploadPartCopyInput & { customerKey?: Buffer }): Promise<PartInfo> {
  const upload = await uploadForPart(context, input)
  const source = await resolveCopySource(context, input.principal, input.source)
  if (upload.encryption === undefined && source.record.encryption === undefined && input.customerKey === undefined && input.source.customerKey === undefined) {
    return uploadPartCopy(context, input)
  }
  const range = copyRange(input.source, source.record)
  const decrypt = await readDecryption(context, source.record, input.source.customerKey, true)
  const plain = range === undefined ? emptyBody() : decrypt(readVersion(context, source.record, range, input.signal), range)
  const body = digestingBody(plain, upload.checksumAlgorithm)
  return uploadPart(context, {
    bucket: input.bucket,
    key: input.key,
    uploadId: input.uploadId,
    partNumber: input.partNumber,
    principal: input.principal,
    body: body.stream,
    sizeBytes: range === undefined ? 0 : range.last - range.first + 1,
    digests: async () => {
      const digests = await body.digests()
      return digests.checksum === undefined ? { md5Hex: digests.md5Hex } : { md5Hex: digests.md5Hex, checksum: digests.checksum }
    },
    signal: input.signal,
    ...(input.customerKey === undefined ? {} : { customerKey: input.customerKey }),
  })
}

async function* emptyBody(): AsyncGenerator<Buffer> {}

// Server-side encryption on the wire (docs/encryption.md): the request headers
//   x-amz-server-side-encryption: AES256 | aws:kms
//   x-amz-server-side-encryption-aws-kms-key-id, x-amz-server-side-encryption-bucket-key-enabled,
//   x-amz-server-side-encryption-context (base64 of a JSON string-to-string map)
//   x-amz-server-side-encryption-customer-algorithm / -customer-key / -customer-key-MD5 (SSE-C)
//   x-amz-copy-source-server-side-encryption-customer-* (the SSE-C key of a copy source)
// checked as AWS checks them (the key is 32 bytes of base64 and its MD5 matches; SSE-C only over
// HTTPS), the response headers AWS sends for an encrypted object, and the bucket encryption
// document (ServerSideEncryptionConfiguration).
// Never: echo a customer key, log it, or keep it beyond the request.
import { createHash } from 'node:crypto'
import { dataManagementLimits } from '../lib/index.ts'
import type { BucketEncryptionConfig, EncryptionRequest, ObjectEncryptionInfo } from '../objects/index.ts'
import type { RequestHeaders } from './auth/index.ts'
import { header } from './context.ts'
import { S3Error } from './errors.ts'
import { childList, childNode, childText, parseXmlBody, type XmlChild } from './xml.ts'

export const ssePrefix = 'x-amz-server-side-encryption'
export const copySourceSsePrefix = 'x-amz-copy-source-server-side-encryption'

export interface CustomerKey {
  readonly key: Buffer
  /** base64 MD5 of the key, as the client sent it (echoed in responses). */
  readonly keyMd5: string
}

export interface RequestEncryption {
  /** x-amz-server-side-encryption, -aws-kms-key-id, -bucket-key-enabled. */
  readonly managed?: { algorithm: 'AES256' | 'aws:kms'; kmsKeyId?: string; bucketKeyEnabled?: boolean; context?: string }
  readonly customer?: CustomerKey
  readonly sourceCustomer?: CustomerKey
}

type HeaderSource = { readonly headers: RequestHeaders }

function invalidArgument(message: string, name: string, value: string | undefined): S3Error {
  return new S3Error('InvalidArgument', message, { details: { ArgumentName: name, ...(value === undefined ? {} : { ArgumentValue: value }) } })
}

function customerKeyOf(request: HeaderSource, prefix: string): CustomerKey | undefined {
  const algorithm = header(request, `${prefix}-customer-algorithm`)
  const keyText = header(request, `${prefix}-customer-key`)
  const md5Text = header(request, `${prefix}-customer-key-md5`)
  if (algorithm === undefined && keyText === undefined && md5Text === undefined) return undefined
  if (algorithm === undefined) throw invalidArgument('Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', `${prefix}-customer-algorithm`, undefined)
  if (algorithm !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', 'The Encryption request you specified is not valid. Supported value: AES256.', { details: { ArgumentName: `${prefix}-customer-algorithm`, ArgumentValue: algorithm } })
  if (keyText === undefined) throw invalidArgument('Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', `${prefix}-customer-key`, undefined)
  const key = Buffer.from(keyText, 'base64')
  if (key.length !== 32 || key.toString('base64') !== keyText.trim()) throw invalidArgument('The secret key was invalid for the specified algorithm.', `${prefix}-customer-key`, undefined)
  const keyMd5 = createHash('md5').update(key).digest('base64')
  if (md5Text === undefined) throw invalidArgument('Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', `${prefix}-customer-key-MD5`, undefined)
  if (md5Text.trim() !== keyMd5) throw invalidArgument('The calculated MD5 hash of the key did not match the hash that was provided.', `${prefix}-customer-key-MD5`, undefined)
  return { key, keyMd5 }
}

const contextMessage = "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"

/** The encryption context as canonical JSON (keys sorted), or InvalidArgument as AWS answers. */
function encryptionContextOf(text: string): string {
  const invalid = () => invalidArgument(contextMessage, `${ssePrefix}-context`, undefined)
  const bytes = Buffer.from(text.trim(), 'base64')
  if (bytes.length === 0 || bytes.length > dataManagementLimits.kmsEncryptionContextBytesMax || bytes.toString('base64').replace(/=+$/, '') !== text.trim().replace(/=+$/, '')) throw invalid()
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw invalid()
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid()
  const entries = Object.entries(value)
  if (entries.some(([, entry]) => typeof entry !== 'string')) throw invalid()
  return JSON.stringify(Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
}

function managedOf(request: HeaderSource): RequestEncryption['managed'] {
  const algorithm = header(request, ssePrefix)
  const kmsKeyId = header(request, `${ssePrefix}-aws-kms-key-id`)
  const bucketKey = header(request, `${ssePrefix}-bucket-key-enabled`)
  const contextText = header(request, `${ssePrefix}-context`)
  if (algorithm === undefined) {
    if (contextText !== undefined) throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', `${ssePrefix}-context`, undefined)
    if (kmsKeyId !== undefined) throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', `${ssePrefix}-aws-kms-key-id`, kmsKeyId)
    if (bucketKey !== undefined) throw invalidArgument('x-amz-server-side-encryption-bucket-key-enabled needs x-amz-server-side-encryption', `${ssePrefix}-bucket-key-enabled`, bucketKey)
    return undefined
  }
  const value = algorithm.trim()
  if (value === 'aws:kms:dsse') throw new S3Error('NotImplemented', 'Dual-layer server-side encryption (aws:kms:dsse) is not implemented by this server.', { details: { Header: ssePrefix } })
  if (value !== 'AES256' && value !== 'aws:kms') throw invalidArgument(`The encryption method specified is not supported: ${value}`, ssePrefix, value)
  if (kmsKeyId !== undefined && value !== 'aws:kms') throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', `${ssePrefix}-aws-kms-key-id`, kmsKeyId)
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw invalidArgument('x-amz-server-side-encryption-bucket-key-enabled must be true or false', `${ssePrefix}-bucket-key-enabled`, bucketKey)
  if (contextText !== undefined && value !== 'aws:kms') throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms', `${ssePrefix}-context`, undefined)
  const context = contextText === undefined ? undefined : encryptionContextOf(contextText)
  return {
    algorithm: value,
    ...(kmsKeyId === undefined ? {} : { kmsKeyId: kmsKeyId.trim() }),
    ...(bucketKey === undefined ? {} : { bucketKeyEnabled: bucketKey === 'true' }),
    ...(context === undefined ? {} : { context }),
  }
}

/** Whether a request carries any SSE header (target or copy source). */
export function hasSseHeaders(request: HeaderSource): boolean {
  return Object.keys(request.headers).some((name) => request.headers[name] !== undefined && (name.startsWith(ssePrefix) || name.startsWith(copySourceSsePrefix)))
}

export function parseRequestEncryption(request: HeaderSource, secure: boolean): RequestEncryption {
  const managed = managedOf(request)
  const customer = customerKeyOf(request, ssePrefix)
  const sourceCustomer = customerKeyOf(request, copySourceSsePrefix)
  if (managed !== undefined && customer !== undefined) throw invalidArgument('Server Side Encryption with Customer provided key is incompatible with the encryption method specified', ssePrefix, managed.algorithm)
  if ((customer !== undefined || sourceCustomer !== undefined) && !secure) {
    throw new S3Error('InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.')
  }
  return { ...(managed === undefined ? {} : { managed }), ...(customer === undefined ? {} : { customer }), ...(sourceCustomer === undefined ? {} : { sourceCustomer }) }
}

/** The objects layer's view of the target encryption a request asks for. */
export function encryptionRequestOf(parsed: RequestEncryption): EncryptionRequest | undefined {
  if (parsed.customer !== undefined) return { customerKey: parsed.customer.key }
  if (parsed.managed === undefined) return undefined
  return {
    algorithm: parsed.managed.algorithm,
    ...(parsed.managed.kmsKeyId === undefined ? {} : { kmsKeyId: parsed.managed.kmsKeyId }),
    ...(parsed.managed.bucketKeyEnabled === undefined ? {} : { bucketKeyEnabled: parsed.managed.bucketKeyEnabled }),
    ...(parsed.managed.context === undefined ? {} : { context: parsed.managed.context }),
  }
}

/**
 * The headers AWS answers for an object's encryption (SSE-C echoes the key MD5 the client sent).
 * withContext: PutObject, CopyObject and CreateMultipartUpload also return the encryption
 * context (base64), as AWS does; GET and HEAD do not.
 */
export function encryptionResponseHeaders(info: ObjectEncryptionInfo | undefined, customer: CustomerKey | undefined, withContext = false): Record<string, string> {
  switch (info?.kind) {
    case undefined:
      return {}
    case 'SSE-S3':
      return { [ssePrefix]: 'AES256' }
    case 'SSE-KMS':
      return {
        [ssePrefix]: 'aws:kms',
        [`${ssePrefix}-aws-kms-key-id`]: info.kmsKeyId,
        ...(info.bucketKeyEnabled ? { [`${ssePrefix}-bucket-key-enabled`]: 'true' } : {}),
        ...(withContext && info.context !== undefined ? { [`${ssePrefix}-context`]: Buffer.from(info.context, 'utf8').toString('base64') } : {}),
      }
    case 'SSE-C':
      return {
        [`${ssePrefix}-customer-algorithm`]: 'AES256',
        ...(customer === undefined ? {} : { [`${ssePrefix}-customer-key-md5`]: customer.keyMd5 }),
      }
  }
}

// ---- ServerSideEncryptionConfiguration ------------------------------------------------------

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', { details: { Detail: detail } })
}

export function parseEncryptionConfiguration(body: Buffer): BucketEncryptionConfig {
  if (body.length === 0) throw new S3Error('MissingRequestBodyError', 'Request Body is empty')
  const root = parseXmlBody(body, 'ServerSideEncryptionConfiguration')
  const rules = childList(root, 'Rule')
  if (rules.length !== 1) throw malformed('ServerSideEncryptionConfiguration takes exactly one Rule')
  const rule = rules[0] ?? ''
  const apply = childNode(rule, 'ApplyServerSideEncryptionByDefault')
  if (apply === undefined) throw malformed('Rule needs ApplyServerSideEncryptionByDefault')
  const algorithm = childText(apply, 'SSEAlgorithm')
  if (algorithm === 'aws:kms:dsse') throw new S3Error('NotImplemented', 'Dual-layer server-side encryption (aws:kms:dsse) is not implemented by this server.')
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms') throw malformed('SSEAlgorithm must be AES256 or aws:kms')
  const kmsKeyId = childText(apply, 'KMSMasterKeyID')
  const bucketKey = childText(rule, 'BucketKeyEnabled')
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw malformed('BucketKeyEnabled must be true or false')
  return { algorithm, ...(kmsKeyId === undefined || kmsKeyId === '' ? {} : { kmsKeyId }), bucketKeyEnabled: bucketKey === 'true' }
}

export function encryptionConfigurationXml(config: BucketEncryptionConfig): XmlChild[] {
  return [['Rule', [
    ['ApplyServerSideEncryptionByDefault', [['SSEAlgorithm', config.algorithm], ['KMSMasterKeyID', config.kmsKeyId]]],
    ['BucketKeyEnabled', config.bucketKeyEnabled],
  ]]]
}

// SigV4 cryptographic primitives shared by request verification (sigv4.ts), the aws-chunked
// decoder and its test encoder: signing-key derivation, strings to sign for requests, chunks and
// trailers, and a constant-time signature comparison. Pure functions over node:crypto.
// Invariants: signatures are 64 lowercase hex characters; a signing key is 32 bytes.
// Never compare signatures with === (timing), never log a secret or a signing key.
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto'
import { assert } from '../../lib/index.ts'

export const sigV4Algorithm = 'AWS4-HMAC-SHA256'
/** SHA-256 of the empty string, hex: the payload hash of an empty body and of chunk metadata. */
export const emptySha256Hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const signaturePattern = /^[0-9a-f]{64}$/

/** What a chunk or trailer signature chains from: fixed by the request's seed signature. */
export interface ChunkSigningContext {
  /** HMAC key derived from the secret for `scope` (32 bytes). */
  readonly signingKey: Buffer
  /** The request timestamp, 'YYYYMMDDTHHMMSSZ'. */
  readonly amzDate: string
  /** 'YYYYMMDD/region/service/aws4_request'. */
  readonly scope: string
  /** The signature of the request itself, which the first chunk chains from. */
  readonly seedSignature: string
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** HMAC-SHA256; a KeyObject key skips node:crypto's per-call key preparation (~6x cheaper here). */
export function hmacSha256(key: Uint8Array | string | KeyObject, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  assert(/^\d{8}$/.test(date), 'signing date is YYYYMMDD')
  const dateKey = hmacSha256(`AWS4${secretAccessKey}`, date)
  const regionKey = hmacSha256(dateKey, region)
  const serviceKey = hmacSha256(regionKey, service)
  return hmacSha256(serviceKey, 'aws4_request')
}

export function requestStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${sigV4Algorithm}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`
}

/** String to sign of one aws-chunked data chunk (the final, empty chunk included). */
export function chunkStringToSign(context: ChunkSigningContext, previousSignature: string, chunkSha256Hex: string): string {
  return `${sigV4Algorithm}-PAYLOAD\n${context.amzDate}\n${context.scope}\n${previousSignature}\n${emptySha256Hex}\n${chunkSha256Hex}`
}

/** String to sign of the trailing headers, chained from the final chunk's signature. */
export function trailerStringToSign(context: ChunkSigningContext, previousSignature: string, trailerSha256Hex: string): string {
  return `${sigV4Algorithm}-TRAILER\n${context.amzDate}\n${context.scope}\n${previousSignature}\n${trailerSha256Hex}`
}

export function signString(signingKey: Buffer | KeyObject, stringToSign: string): string {
  return hmacSha256(signingKey, stringToSign).toString('hex')
}

export function signChunk(context: ChunkSigningContext, previousSignature: string, chunkSha256Hex: string): string {
  return signString(context.signingKey, chunkStringToSign(context, previousSignature, chunkSha256Hex))
}

export function signTrailer(context: ChunkSigningContext, previousSignature: string, trailerSha256Hex: string): string {
  return signString(context.signingKey, trailerStringToSign(context, previousSignature, trailerSha256Hex))
}

export function isSignatureFormat(text: string): boolean {
  return signaturePattern.test(text)
}

/**
 * Constant-time comparison of a computed signature with the one the client sent. Both must be
 * 64 lowercase hex characters; a malformed claim compares unequal (still without early exit on
 * content).
 */
export function signaturesEqual(computed: string, claimed: string): boolean {
  assert(signaturePattern.test(computed), 'computed signature is 64 lowercase hex')
  if (!signaturePattern.test(claimed)) return false
  return timingSafeEqual(Buffer.from(computed, 'hex'), Buffer.from(claimed, 'hex'))
}

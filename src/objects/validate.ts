// Validation of caller input that S3 defines rules for: bucket names, object keys, user
// metadata, tags, part numbers, page sizes. The edge parses; this layer owns the S3 rules, so
// every front-end (S3 now, admin later) gets the same answers. Errors are INVALID_ARGUMENT with
// the S3 code as hint.
import { objectLimits } from '../lib/index.ts'
import { storageClasses } from '../model/index.ts'
import type { StorageClass, Tags } from './api.ts'
import { invalidArgument } from './errors.ts'

const bucketNameCharacters = /^[a-z0-9.-]+$/
const ipv4Form = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
const reservedPrefixes = ['xn--', 'sthree-', 'amzn-s3-demo-']
const reservedSuffixes = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']

/** AWS's general purpose bucket naming rules. */
export function validateBucketName(name: string): void {
  const fail = (why: string) => {
    throw invalidArgument('InvalidBucketName', `The specified bucket is not valid: ${JSON.stringify(name)} ${why}`)
  }
  if (name.length < objectLimits.bucketNameCharsMin || name.length > objectLimits.bucketNameCharsMax) {
    fail(`must be ${objectLimits.bucketNameCharsMin} to ${objectLimits.bucketNameCharsMax} characters long`)
  }
  if (!bucketNameCharacters.test(name)) fail('may contain only lowercase letters, digits, dots and hyphens')
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) fail('must begin and end with a letter or digit')
  if (name.includes('..')) fail('must not contain two adjacent dots')
  if (ipv4Form.test(name)) fail('must not be formatted as an IP address')
  for (const prefix of reservedPrefixes) if (name.startsWith(prefix)) fail(`must not start with ${prefix}`)
  for (const suffix of reservedSuffixes) if (name.endsWith(suffix)) fail(`must not end with ${suffix}`)
}

export function validateObjectKey(key: string): void {
  if (key.length === 0) throw invalidArgument('InvalidArgument', 'object keys are at least one character long')
  if (!key.isWellFormed()) throw invalidArgument('InvalidArgument', 'object keys must be valid Unicode (no lone surrogates)')
  if (Buffer.byteLength(key, 'utf8') > objectLimits.objectKeyBytesMax) {
    throw invalidArgument('KeyTooLongError', `Your key is too long: at most ${objectLimits.objectKeyBytesMax} bytes of UTF-8`)
  }
}

export function validateUserMetadata(metadata: Readonly<Record<string, string>>): void {
  let total = 0
  for (const [name, value] of Object.entries(metadata)) {
    if (!name.isWellFormed() || !value.isWellFormed()) throw invalidArgument('InvalidArgument', 'user metadata must be valid Unicode')
    total += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8')
  }
  if (total > objectLimits.userMetadataBytesMax) {
    throw invalidArgument('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size (${total} > ${objectLimits.userMetadataBytesMax} bytes)`)
  }
}

// AWS tag character set: Unicode letters, digits, white space and _ . : / = + - @.
const tagCharacters = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u

export function validateTags(tags: Tags, tagsMax: number): void {
  const fail = (why: string) => {
    throw invalidArgument('InvalidTag', why)
  }
  if (tags.length > tagsMax) fail(`Object tags cannot be greater than ${tagsMax}`)
  const seen = new Set<string>()
  for (const { key, value } of tags) {
    const keyChars = [...key].length
    if (keyChars < 1 || keyChars > objectLimits.tagKeyCharsMax) fail(`The TagKey you have provided is invalid: 1 to ${objectLimits.tagKeyCharsMax} characters`)
    if ([...value].length > objectLimits.tagValueCharsMax) fail(`The TagValue you have provided is invalid: at most ${objectLimits.tagValueCharsMax} characters`)
    if (!tagCharacters.test(key) || !tagCharacters.test(value)) fail('The TagKey or TagValue you have provided contains characters that are not allowed')
    if (key.toLowerCase().startsWith('aws:')) fail('Your TagKey cannot be prefixed with aws:')
    if (seen.has(key)) fail('Cannot provide multiple Tags with the same key')
    seen.add(key)
  }
}

export function validateStorageClass(storageClass: StorageClass | undefined): StorageClass {
  if (storageClass === undefined) return 'STANDARD'
  if (!storageClasses.includes(storageClass)) throw invalidArgument('InvalidStorageClass', `The storage class you specified is not valid: ${String(storageClass)}`)
  return storageClass
}

export function validatePartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > objectLimits.partNumberMax) {
    throw invalidArgument('InvalidArgument', `Part number must be an integer between 1 and ${objectLimits.partNumberMax}, inclusive`)
  }
}

/** Page sizes: negative or fractional is an error, larger than the maximum is the maximum (as S3). */
export function pageSize(requested: number, what: string): number {
  if (!Number.isInteger(requested) || requested < 0) throw invalidArgument('InvalidArgument', `${what} must be a non-negative integer`)
  return Math.min(requested, objectLimits.listPageMax)
}

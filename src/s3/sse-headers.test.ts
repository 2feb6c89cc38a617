// SSE request headers at the edge: the KMS key id and the encryption context (base64 of a JSON
// string map, canonicalised; refused without aws:kms or when malformed, as AWS answers), and the
// response headers (the context only where AWS returns it). Also the KMS error codes S3 passes on.
import t from 'tap'
import { ObjectsError } from '../objects/index.ts'
import { fromStoreError } from './errors.ts'
import { encryptionRequestOf, encryptionResponseHeaders, parseRequestEncryption } from './sse-headers.ts'

const parse = (headers: Record<string, string>) => parseRequestEncryption({ headers }, true)
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

t.test('the encryption context', async (t) => {
  const parsed = parse({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/reports', 'x-amz-server-side-encryption-context': base64('{"b":"2","a":"1"}') })
  t.same(encryptionRequestOf(parsed), { algorithm: 'aws:kms', kmsKeyId: 'alias/reports', context: '{"a":"1","b":"2"}' }, 'canonical JSON, keys sorted')
  const refused = (headers: Record<string, string>) => {
    try {
      parse(headers)
      return 'accepted'
    } catch (error) {
      return (error as { code: string }).code
    }
  }
  t.equal(refused({ 'x-amz-server-side-encryption-context': base64('{"a":"1"}') }), 'InvalidArgument', 'a context needs aws:kms')
  t.equal(refused({ 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-context': base64('{"a":"1"}') }), 'InvalidArgument')
  for (const bad of [base64('[1]'), base64('{"a":1}'), base64('not json'), '***', base64('"text"'), base64(`{"a":"${'x'.repeat(5000)}"}`)]) {
    t.equal(refused({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': bad }), 'InvalidArgument', `refused: ${bad.slice(0, 20)}`)
  }
  const info = { kind: 'SSE-KMS' as const, kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/k', bucketKeyEnabled: true, context: '{"a":"1"}' }
  t.same(encryptionResponseHeaders(info, undefined, true), {
    'x-amz-server-side-encryption': 'aws:kms',
    'x-amz-server-side-encryption-aws-kms-key-id': info.kmsKeyId,
    'x-amz-server-side-encryption-bucket-key-enabled': 'true',
    'x-amz-server-side-encryption-context': base64('{"a":"1"}'),
  }, 'PUT, copy and CreateMultipartUpload echo the context')
  t.notOk('x-amz-server-side-encryption-context' in encryptionResponseHeaders(info, undefined), 'GET and HEAD do not')
})

t.test('KMS errors keep their dotted AWS codes and status 400', async (t) => {
  const disabled = fromStoreError(new ObjectsError('INVALID_STATE', 'arn:aws:kms:us-east-1:000000000000:key/k is disabled.', { hint: 'KMS.DisabledException' }), {})
  t.match(disabled, { code: 'KMS.DisabledException', status: 400, message: 'arn:aws:kms:us-east-1:000000000000:key/k is disabled.' })
  const missing = fromStoreError(new ObjectsError('NOT_FOUND', "Invalid keyId 'x'", { hint: 'KMS.NotFoundException' }), {})
  t.match(missing, { code: 'KMS.NotFoundException', status: 400, message: "Invalid keyId 'x'" })
  t.match(fromStoreError(new ObjectsError('INVALID_STATE', 'k is pending deletion.', { hint: 'KMS.KMSInvalidStateException' }), {}), { code: 'KMS.KMSInvalidStateException', status: 400 })
})

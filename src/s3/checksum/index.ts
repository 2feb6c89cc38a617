// Public surface of S3 integrity checks: the digest math (re-exported from src/lib/checksum),
// client digest parsing and comparison with AWS's codes, request checksum selection.
export * from '../../lib/checksum/index.ts'
export * from './checksum.ts'
export * from './request.ts'

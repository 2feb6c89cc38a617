// Public surface of S3 integrity checks: incremental digests (flexible checksums and MD5),
// client digest parsing and comparison, request checksum selection, multipart forms.
export * from './checksum.ts'
export * from './multipart.ts'
export * from './request.ts'
export { Crc64Nvme, crc64Nvme } from './crc64nvme.ts'
export { combineCrc, crc32cParameters, crc32Parameters, crc64NvmeParameters, type CrcParameters } from './crc-combine.ts'

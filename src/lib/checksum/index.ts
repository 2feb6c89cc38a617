// Checksums as pure math: incremental digests (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, MD5),
// CRC combination and the multipart composite / full-object forms. No protocol errors here.
export * from './digest.ts'
export * from './multipart.ts'
export { Crc64Nvme, crc64Nvme } from './crc64nvme.ts'
export { combineCrc, crc32cParameters, crc32Parameters, crc64NvmeParameters, crcFromDigest, crcToDigest, type CrcParameters } from './crc-combine.ts'

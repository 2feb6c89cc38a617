// The model layer: persisted records of the layers above the chunk store and their codecs.
// Objects (S3): docs/format/objects.md.
export * from './bucket.ts'
export * from './lifecycle.ts'
export * from './kms-key.ts'
export * from './lifecycle-version.ts'
export * from './manifest.ts'
export * from './object-version.ts'
export * from './s3-keys.ts'
export * from './tiering-config.ts'
export * from './upload.ts'
export * from './user.ts'
export { ShapeReader, corruptRecord, type JsonObject } from './shape.ts'

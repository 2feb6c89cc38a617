// The objects layer: S3 semantics without HTTP (contract in api.ts, formats in
// docs/format/objects.md).
export type * from './api.ts'
export { openObjects, type ObjectsLayer, type ObjectsOptions } from './service.ts'
export { KeyManagement, kmsAccountId, kmsKeyArn, normalizeAlias, type KmsKeyInfo, type KmsKeySource } from './kms.ts'
export { deleteMarkerOf, ObjectsError, type DeleteMarkerInfo } from './errors.ts'
export { rootPrincipal, rootUserId, type RootCredentials } from './users.ts'
export { validateBucketName } from './validate.ts'
export { WholeBody } from './reader.ts'

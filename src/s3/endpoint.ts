// The typed S3 endpoint: what a request asks for, decided before any handler runs (Garage's
// Endpoint). router.ts builds one from method + addressing + query; app.ts dispatches on `kind`
// in one exhaustive switch. Query parameters an operation takes are parsed and validated into
// its variant here, so handlers never read the raw query. Headers stay with the request: a
// handler reads the ones its operation defines.
//
// `NotImplemented` stands for every recognised S3 operation Cairn does not support (bucket
// policy, CORS, lifecycle, ...): it is answered with 501, never silently treated as another one.
import type { DataManagementEndpoint } from './data-management.ts'

export interface BucketTarget {
  readonly bucket: string
}

export interface ObjectTarget extends BucketTarget {
  readonly key: string
}

/** The response-* query overrides of GetObject / HeadObject. */
export interface ResponseOverrides {
  readonly contentType?: string
  readonly contentLanguage?: string
  readonly expires?: string
  readonly cacheControl?: string
  readonly contentDisposition?: string
  readonly contentEncoding?: string
}

export type EncodingType = 'url' | undefined

export type ServiceEndpoint = {
  readonly kind: 'ListBuckets'
  readonly prefix?: string
  readonly continuationToken?: string
  readonly maxBuckets?: number
}

export type BucketEndpoint =
  | ({ readonly kind: 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation' } & BucketTarget)
  | ({ readonly kind: 'GetBucketVersioning' | 'PutBucketVersioning' } & BucketTarget)
  | ({ readonly kind: 'GetBucketTagging' | 'PutBucketTagging' | 'DeleteBucketTagging' } & BucketTarget)
  | ({ readonly kind: 'GetBucketAcl' | 'PutBucketAcl' } & BucketTarget)
  | ({ readonly kind: 'DeleteObjects' } & BucketTarget)
  | ({
      readonly kind: 'ListObjects'
      readonly prefix?: string
      readonly delimiter?: string
      readonly marker?: string
      readonly maxKeys: number
      readonly encodingType: EncodingType
    } & BucketTarget)
  | ({
      readonly kind: 'ListObjectsV2'
      readonly prefix?: string
      readonly delimiter?: string
      readonly continuationToken?: string
      readonly startAfter?: string
      readonly maxKeys: number
      readonly fetchOwner: boolean
      readonly encodingType: EncodingType
    } & BucketTarget)
  | ({
      readonly kind: 'ListObjectVersions'
      readonly prefix?: string
      readonly delimiter?: string
      readonly keyMarker?: string
      readonly versionIdMarker?: string
      readonly maxKeys: number
      readonly encodingType: EncodingType
    } & BucketTarget)
  | ({
      readonly kind: 'ListMultipartUploads'
      readonly prefix?: string
      readonly delimiter?: string
      readonly keyMarker?: string
      readonly uploadIdMarker?: string
      readonly maxUploads: number
      readonly encodingType: EncodingType
    } & BucketTarget)

export type ObjectEndpoint =
  | ({
      readonly kind: 'GetObject' | 'HeadObject'
      readonly versionId?: string
      readonly partNumber?: number
      readonly overrides: ResponseOverrides
    } & ObjectTarget)
  | ({ readonly kind: 'PutObject' | 'CopyObject' | 'CreateMultipartUpload' } & ObjectTarget)
  | ({ readonly kind: 'DeleteObject'; readonly versionId?: string } & ObjectTarget)
  | ({ readonly kind: 'GetObjectTagging' | 'PutObjectTagging' | 'DeleteObjectTagging'; readonly versionId?: string } & ObjectTarget)
  | ({ readonly kind: 'GetObjectAcl' | 'PutObjectAcl'; readonly versionId?: string } & ObjectTarget)
  | ({ readonly kind: 'UploadPart' | 'UploadPartCopy'; readonly uploadId: string; readonly partNumber: number } & ObjectTarget)
  | ({ readonly kind: 'CompleteMultipartUpload' | 'AbortMultipartUpload'; readonly uploadId: string } & ObjectTarget)
  | ({
      readonly kind: 'ListParts'
      readonly uploadId: string
      readonly partNumberMarker?: number
      readonly maxParts: number
      readonly encodingType: EncodingType
    } & ObjectTarget)

export type NotImplementedEndpoint = {
  readonly kind: 'NotImplemented'
  /** The AWS operation name (GetBucketPolicy, SelectObjectContent, ...). */
  readonly operation: string
  readonly bucket?: string
  readonly key?: string
}

// Lifecycle, bucket encryption and RestoreObject: routed and handled by data-management.ts.
export type Endpoint = ServiceEndpoint | BucketEndpoint | ObjectEndpoint | NotImplementedEndpoint | DataManagementEndpoint
export type EndpointKind = Endpoint['kind']

/** Operations that read a request body (the router never does; handlers do, bounded). */
export const bodyEndpointKinds: ReadonlySet<EndpointKind> = new Set<EndpointKind>([
  'CreateBucket',
  'PutBucketVersioning',
  'PutBucketTagging',
  'PutBucketAcl',
  'DeleteObjects',
  'PutObject',
  'PutObjectTagging',
  'PutObjectAcl',
  'UploadPart',
  'CompleteMultipartUpload',
])

// Handlers of the data-management operations: Get/Put/DeleteBucketLifecycleConfiguration,
// Get/Put/DeleteBucketEncryption, RestoreObject and Get/Put/Delete/ListBucketIntelligentTiering-
// Configuration(s) (docs/lifecycle.md, encryption.md, storage-classes.md). Each parses its document, calls the objects layer and answers as AWS
// does: 200 with the document, 204 for deletes, RestoreObject 202 (started) or 200 (a restored
// copy existed; its expiry moved). An objects layer without these operations (a test double)
// answers NotImplemented.
import type { ObjectsService, RestoreTier } from '../objects/index.ts'
import { readSmallBody } from './body.ts'
import { emptyResponse, header, xmlResponse, type S3Context, type S3Response } from './context.ts'
import type { DataManagementEndpoint } from './data-management.ts'
import { S3Error } from './errors.ts'
import { lifecycleXml, parseLifecycleConfiguration } from './lifecycle-xml.ts'
import { encryptionConfigurationXml, parseEncryptionConfiguration } from './sse-headers.ts'
import { parseTieringConfiguration, tieringConfigurationXml } from './intelligent-tiering-xml.ts'
import { childNode, childText, parseXmlBody, type XmlChild } from './xml.ts'

/** The transition minimum Cairn applies (AWS's default since 2024); the only value accepted. */
const transitionMinimumHeader = 'x-amz-transition-default-minimum-object-size'
const transitionMinimum = 'all_storage_classes_128K'

function operation<K extends keyof ObjectsService>(context: S3Context, name: K, operationName: string): NonNullable<ObjectsService[K]> {
  const method = context.objects[name]
  if (method === undefined) throw new S3Error('NotImplemented', `${operationName} is not implemented by this server.`, { details: { Operation: operationName } })
  return (method as (...args: unknown[]) => unknown).bind(context.objects) as NonNullable<ObjectsService[K]>
}

async function lifecycle(context: S3Context, endpoint: Extract<DataManagementEndpoint, { kind: 'GetBucketLifecycleConfiguration' | 'PutBucketLifecycleConfiguration' | 'DeleteBucketLifecycle' }>): Promise<S3Response> {
  switch (endpoint.kind) {
    case 'GetBucketLifecycleConfiguration': {
      const configuration = await operation(context, 'getBucketLifecycle', endpoint.kind)(context.principal, endpoint.bucket)
      return xmlResponse('LifecycleConfiguration', lifecycleXml(configuration), { [transitionMinimumHeader]: transitionMinimum })
    }
    case 'PutBucketLifecycleConfiguration': {
      const minimum = header(context, transitionMinimumHeader)
      if (minimum !== undefined && minimum !== transitionMinimum) {
        throw new S3Error('NotImplemented', `${transitionMinimumHeader}: only ${transitionMinimum} is implemented by this server.`, { details: { Header: transitionMinimumHeader } })
      }
      const configuration = parseLifecycleConfiguration(await readSmallBody(context))
      await operation(context, 'putBucketLifecycle', endpoint.kind)(context.principal, endpoint.bucket, configuration)
      return emptyResponse(200, { [transitionMinimumHeader]: transitionMinimum })
    }
    case 'DeleteBucketLifecycle':
      await operation(context, 'deleteBucketLifecycle', endpoint.kind)(context.principal, endpoint.bucket)
      return emptyResponse(204)
  }
}

async function encryption(context: S3Context, endpoint: Extract<DataManagementEndpoint, { kind: 'GetBucketEncryption' | 'PutBucketEncryption' | 'DeleteBucketEncryption' }>): Promise<S3Response> {
  switch (endpoint.kind) {
    case 'GetBucketEncryption': {
      const config = await operation(context, 'getBucketEncryption', endpoint.kind)(context.principal, endpoint.bucket)
      return xmlResponse('ServerSideEncryptionConfiguration', encryptionConfigurationXml(config))
    }
    case 'PutBucketEncryption': {
      const config = parseEncryptionConfiguration(await readSmallBody(context))
      await operation(context, 'putBucketEncryption', endpoint.kind)(context.principal, endpoint.bucket, config)
      return emptyResponse(200)
    }
    case 'DeleteBucketEncryption':
      await operation(context, 'deleteBucketEncryption', endpoint.kind)(context.principal, endpoint.bucket)
      return emptyResponse(204)
  }
}

const restoreTiers: readonly RestoreTier[] = ['Expedited', 'Standard', 'Bulk']

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', { details: { Detail: detail } })
}

/**
 * <RestoreRequest><Days>n</Days><GlacierJobParameters><Tier>Standard</Tier></GlacierJobParameters></RestoreRequest>.
 * Days may be absent: INTELLIGENT_TIERING archive tiers take none, GLACIER needs it (the objects
 * layer answers MalformedXML then, as AWS).
 */
export function parseRestoreRequest(body: Buffer): { days?: number; tier?: RestoreTier } {
  if (body.length === 0) throw new S3Error('MissingRequestBodyError', 'Request Body is empty')
  const root = parseXmlBody(body, 'RestoreRequest')
  if (childText(root, 'Type') !== undefined || childNode(root, 'SelectParameters') !== undefined || childNode(root, 'OutputLocation') !== undefined) {
    throw new S3Error('NotImplemented', 'Select restores (Type SELECT, OutputLocation) are not implemented by this server.')
  }
  const daysText = childText(root, 'Days')
  if (daysText !== undefined && !/^-?\d{1,16}$/.test(daysText.trim())) throw malformed('Days must be an integer')
  const parameters = childNode(root, 'GlacierJobParameters')
  const tierText = (parameters === undefined ? undefined : childText(parameters, 'Tier')) ?? childText(root, 'Tier')
  const tier = tierText === undefined ? undefined : restoreTiers.find((candidate) => candidate === tierText.trim())
  if (tierText !== undefined && tier === undefined) throw malformed('Tier must be Expedited, Standard or Bulk')
  return { ...(daysText === undefined ? {} : { days: Number(daysText.trim()) }), ...(tier === undefined ? {} : { tier }) }
}

async function restore(context: S3Context, endpoint: Extract<DataManagementEndpoint, { kind: 'RestoreObject' }>): Promise<S3Response> {
  const request = parseRestoreRequest(await readSmallBody(context))
  const result = await operation(context, 'restoreObject', endpoint.kind)({
    bucket: endpoint.bucket,
    key: endpoint.key,
    principal: context.principal,
    ...(endpoint.versionId === undefined ? {} : { versionId: endpoint.versionId }),
    ...request,
  })
  return emptyResponse(result.alreadyRestored ? 200 : 202)
}

const tokenVersion = '1'

function encodeToken(afterId: string): string {
  return Buffer.from(`${tokenVersion}${afterId}`, 'utf8').toString('base64url')
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8')
  if (token === '' || !text.startsWith(tokenVersion) || encodeToken(text.slice(tokenVersion.length)) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { details: { ArgumentName: 'continuation-token', ArgumentValue: token } })
  }
  return text.slice(tokenVersion.length)
}

type TieringEndpoint = Extract<DataManagementEndpoint, { kind: 'GetBucketIntelligentTieringConfiguration' | 'PutBucketIntelligentTieringConfiguration' | 'DeleteBucketIntelligentTieringConfiguration' | 'ListBucketIntelligentTieringConfigurations' }>

async function intelligentTiering(context: S3Context, endpoint: TieringEndpoint): Promise<S3Response> {
  switch (endpoint.kind) {
    case 'GetBucketIntelligentTieringConfiguration': {
      const configuration = await operation(context, 'getBucketIntelligentTiering', endpoint.kind)(context.principal, endpoint.bucket, endpoint.id)
      return xmlResponse('IntelligentTieringConfiguration', tieringConfigurationXml(configuration))
    }
    case 'PutBucketIntelligentTieringConfiguration': {
      const configuration = parseTieringConfiguration(await readSmallBody(context))
      if (configuration.id !== endpoint.id) {
        throw new S3Error('InvalidArgument', 'The Id in the configuration does not match the id parameter', { details: { ArgumentName: 'id', ArgumentValue: endpoint.id } })
      }
      await operation(context, 'putBucketIntelligentTiering', endpoint.kind)(context.principal, endpoint.bucket, configuration)
      return emptyResponse(200)
    }
    case 'DeleteBucketIntelligentTieringConfiguration':
      await operation(context, 'deleteBucketIntelligentTiering', endpoint.kind)(context.principal, endpoint.bucket, endpoint.id)
      return emptyResponse(204)
    case 'ListBucketIntelligentTieringConfigurations': {
      const after = endpoint.continuationToken === undefined ? undefined : decodeToken(endpoint.continuationToken)
      const page = await operation(context, 'listBucketIntelligentTiering', endpoint.kind)(context.principal, endpoint.bucket, after)
      return xmlResponse('ListBucketIntelligentTieringConfigurationsOutput', [
        ['IsTruncated', page.nextAfter !== undefined],
        ['ContinuationToken', endpoint.continuationToken],
        ['NextContinuationToken', page.nextAfter === undefined ? undefined : encodeToken(page.nextAfter)],
        ...page.configurations.map((configuration): XmlChild => ['IntelligentTieringConfiguration', tieringConfigurationXml(configuration)]),
      ])
    }
  }
}

export async function handleDataManagement(context: S3Context, endpoint: DataManagementEndpoint): Promise<S3Response> {
  switch (endpoint.kind) {
    case 'GetBucketLifecycleConfiguration':
    case 'PutBucketLifecycleConfiguration':
    case 'DeleteBucketLifecycle':
      return lifecycle(context, endpoint)
    case 'GetBucketEncryption':
    case 'PutBucketEncryption':
    case 'DeleteBucketEncryption':
      return encryption(context, endpoint)
    case 'RestoreObject':
      return restore(context, endpoint)
    case 'GetBucketIntelligentTieringConfiguration':
    case 'PutBucketIntelligentTieringConfiguration':
    case 'DeleteBucketIntelligentTieringConfiguration':
    case 'ListBucketIntelligentTieringConfigurations':
      return intelligentTiering(context, endpoint)
  }
}

// In-process S3 server for tests: buildS3App over a MemoryObjects (or any ObjectsService) on
// 127.0.0.1 port 0, plus an @aws-sdk/client-s3 client with default settings pointed at it.
// Closed at the test's teardown.
import type { AddressInfo } from 'node:net'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { systemClock, type Clock } from '../../lib/index.ts'
import type { ObjectsService } from '../../objects/index.ts'
import { buildS3App } from '../app.ts'
import { MemoryObjects } from './memory-objects.ts'

export const testAccessKey = 'AKIDCAIRNTEST0000000'
export const testSecretKey = 'cairn-test-secret-key-0000000000000000000'

export interface TestS3 {
  readonly url: string
  readonly objects: ObjectsService
  readonly bugs: Error[]
  client(config?: Partial<S3ClientConfig>): S3Client
}

export async function startTestS3(
  t: { teardown(fn: () => unknown): void },
  options: { objects?: ObjectsService; clock?: Clock; baseDomains?: string[]; region?: string; https?: { key: string; cert: string } } = {},
): Promise<TestS3> {
  const clock = options.clock ?? systemClock
  const objects = options.objects ?? new MemoryObjects({ clock, rootAccessKeyId: testAccessKey, rootSecretKey: testSecretKey })
  const bugs: Error[] = []
  const shutdown = new AbortController()
  const app = buildS3App({
    objects,
    clock,
    baseDomains: options.baseDomains ?? [],
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.https === undefined ? {} : { https: options.https }),
    isShuttingDown: () => false,
    shutdownSignal: shutdown.signal,
    onBug: (error) => bugs.push(error),
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const url = `${options.https === undefined ? 'http' : 'https'}://127.0.0.1:${port}`
  const clients: S3Client[] = []
  t.teardown(async () => {
    for (const client of clients) client.destroy()
    await app.close()
  })
  return {
    url,
    objects,
    bugs,
    client: (config = {}) => {
      const client = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: testAccessKey, secretAccessKey: testSecretKey }, ...config })
      clients.push(client)
      return client
    },
  }
}

// In-process S3 server for tests: buildS3App over a MemoryObjects (or any ObjectsService) on
// 127.0.0.1 port 0, plus an @aws-sdk/client-s3 client with default settings pointed at it.
// Closed at the test's teardown.
import type { AddressInfo } from 'node:net'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { systemClock, type Clock } from '../../lib/index.ts'
import type { ObjectsService } from '../../objects/index.ts'
import { buildS3App } from '../app.ts'
import { objectsTestSetup } from '../../objects/testing.ts'
import { MemoryObjects } from './memory-objects.ts'

export const testAccessKey = 'AKIDCAIRNTEST0000000'
export const testSecretKey = 'cairn-test-secret-key-0000000000000000000'

/** Which objects layer serves: the in-memory model or the real layer over a chunk store in a temp dir. */
export type TestBackend = 'memory' | 'real'
export const testBackends: readonly TestBackend[] = ['memory', 'real']

export interface TestS3 {
  readonly url: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly objects: ObjectsService
  readonly bugs: Error[]
  client(config?: Partial<S3ClientConfig>): S3Client
}

export async function startTestS3(
  t: { teardown(fn: () => unknown): void },
  options: { backend?: TestBackend; objects?: ObjectsService; clock?: Clock; baseDomains?: string[]; region?: string; https?: { key: string; cert: string } } = {},
): Promise<TestS3> {
  const clock = options.clock ?? systemClock
  let objects: ObjectsService
  let cleanup: (() => Promise<void>) | undefined
  let credentials = { accessKeyId: testAccessKey, secretAccessKey: testSecretKey }
  if (options.objects !== undefined) {
    objects = options.objects
  } else if (options.backend === 'real') {
    const setup = await objectsTestSetup()
    cleanup = () => setup.cleanup()
    objects = setup.objects
    credentials = { accessKeyId: 'ROOTKEY', secretAccessKey: 'root-secret' }
  } else {
    objects = new MemoryObjects({ clock, rootAccessKeyId: testAccessKey, rootSecretKey: testSecretKey })
  }
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
    await cleanup?.()
  })
  return {
    url,
    ...credentials,
    objects,
    bugs,
    client: (config = {}) => {
      const client = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials, ...config })
      clients.push(client)
      return client
    },
  }
}

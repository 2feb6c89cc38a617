// The S3 face: a fastify app over the objects layer (app.ts) and its HTTP/HTTPS listeners
// (server.ts). main/ starts it; nothing else imports from here.
export { buildS3App, type S3AppOptions } from './app.ts'
export { startS3Server, type ListenAddress, type RunningS3, type S3ServerOptions } from './server.ts'
export { generatedTlsPaths, loadTlsMaterial, type TlsMaterial } from './tls.ts'

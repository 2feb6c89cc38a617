// Public surface of aws-chunked body handling: the streaming decoder and its test-side encoder.
export { AwsChunkedDecoder, type AwsChunkedMode, type AwsChunkedOptions } from './aws-chunked.ts'
export { encodeAwsChunked, encodeAwsChunkedToBuffer, type AwsChunkedEncodeOptions } from './aws-chunked-encoder.ts'

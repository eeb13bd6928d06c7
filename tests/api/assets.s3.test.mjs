// assets.s3.test.mjs - assets.test.mjs again, with blob_backend = s3 against
// a real S3 server that checks signatures (tests/tools/s3-peer.sh): single
// PUTs and parts go from a plain HTTP client straight to the bucket through
// Cubby's presigned URLs, and the bucket serves the bytes back.
process.env.CUBBY_TEST_BLOBS = 's3';
await import('./assets.test.mjs');

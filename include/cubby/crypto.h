/* crypto.h - randomness, hashing, MACs and constant-time comparison over
 * libgcrypt, plus the master key file.
 * Secrets handled here are never logged. */
#ifndef CUBBY_CRYPTO_H
#define CUBBY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CB_KEYLEN 32

/* Initialise libgcrypt once per process; 0 or -1. */
int crypto_init(void);
/* n strong random bytes. */
void crypto_random(void *out, size_t n);
/* HMAC-SHA256 of data under key into out[32]. */
void hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, unsigned char out[32]);
/* SHA-256 of data into out[32]. */
void sha256(const void *data, size_t len, unsigned char out[32]);
/* 1 if equal, in time that depends only on n. */
int ct_equal(const void *a, const void *b, size_t n);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(char *out, const void *in, size_t n);
/* Decode exactly 2n hex chars into out[n]; 0 or -1. */
int hex_decode(void *out, size_t n, const char *hex, size_t hexlen);

/* Create the master key file (mode 0600, O_EXCL): 0, or -1 with errno. */
int masterkey_create(const char *path);
/* Load the master key; 0, or -1 with a message in err. */
int masterkey_load(const char *path, unsigned char key[CB_KEYLEN], char *err,
    size_t errlen);
/* Derive a purpose-bound subkey from the master key (HMAC with a label). */
void masterkey_derive(const unsigned char master[CB_KEYLEN], const char *label,
    unsigned char out[CB_KEYLEN]);

#endif

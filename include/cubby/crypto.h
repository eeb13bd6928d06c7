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
/* Lowercase hex SHA-256 of the file at path into hex[65], and its size
 * into *size unless NULL. 0, or -1 with errno set. */
int sha256_file(const char *path, char hex[65], long long *size);
/* 1 if equal, in time that depends only on n. */
int ct_equal(const void *a, const void *b, size_t n);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(char *out, const void *in, size_t n);
/* Decode exactly 2n hex chars into out[n]; 0 or -1. */
int hex_decode(void *out, size_t n, const char *hex, size_t hexlen);

#define CB_SEAL_OVERHEAD (12 + 16)   /* nonce + tag */

/* AES-256-GCM: seal n bytes under key, bound to aad, into out (n +
 * CB_SEAL_OVERHEAD bytes: nonce || ciphertext || tag). 0 or -1. */
int aead_seal(const unsigned char key[CB_KEYLEN], const void *aad,
    size_t aadlen, const void *in, size_t n, unsigned char *out);
/* Open what aead_seal made (len bytes) into out (len - CB_SEAL_OVERHEAD).
 * 0, or -1 if it was tampered with or the key or aad differ. */
int aead_open(const unsigned char key[CB_KEYLEN], const void *aad,
    size_t aadlen, const unsigned char *in, size_t len, void *out);

/* Create the master key file (mode 0600, O_EXCL): 0, or -1 with errno. */
int masterkey_create(const char *path);
/* Load the master key; 0, or -1 with a message in err. */
int masterkey_load(const char *path, unsigned char key[CB_KEYLEN], char *err,
    size_t errlen);
/* Derive a purpose-bound subkey from the master key (HMAC with a label). */
void masterkey_derive(const unsigned char master[CB_KEYLEN], const char *label,
    unsigned char out[CB_KEYLEN]);

/* Passwords people choose (space passwords): scrypt (N=16384, r=8, p=1)
 * with a random salt, stored as "scrypt$N$p$<salt hex>$<hash hex>". */
#define CB_PWHASH_MAX 160
/* 0, or -1 (KDF failure). */
int password_hash(const char *pass, char out[CB_PWHASH_MAX]);
/* 1 when pass matches stored, compared in constant time; 0 otherwise
 * (also for a stored string this version cannot read). */
int password_verify(const char *stored, const char *pass);

#endif

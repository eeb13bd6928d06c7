/* crypto.c - libgcrypt glue: random, SHA-256, HMAC, constant-time compare,
 * master key file. Must never write key material anywhere but the key file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "cubby/crypto.h"
#include "cubby/util.h"

int
crypto_init(void)
{
	static int done;

	if (done)
		return 0;
	if (!gcry_check_version("1.8.0"))
		return -1;
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	done = 1;
	return 0;
}

void
crypto_random(void *out, size_t n)
{
	gcry_randomize(out, n, GCRY_STRONG_RANDOM);
}

void
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[32])
{
	gcry_mac_hd_t h;
	size_t outlen = 32;

	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, 0, NULL) != 0 ||
	    gcry_mac_setkey(h, key, keylen) != 0)
		abort();
	gcry_mac_write(h, data, len);
	gcry_mac_read(h, out, &outlen);
	gcry_mac_close(h);
}

void
sha256(const void *data, size_t len, unsigned char out[32])
{
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, data, len);
}

int
ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

void
hex_encode(char *out, const void *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hex_decode(void *out, size_t n, const char *hex, size_t hexlen)
{
	unsigned char *o = out;

	if (hexlen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit((unsigned char)hex[2 * i]), lo = hex_digit((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
aead_seal(const unsigned char key[CB_KEYLEN], const void *aad, size_t aadlen,
    const void *in, size_t n, unsigned char *out)
{
	gcry_cipher_hd_t h;
	int rc = -1;

	crypto_random(out, 12);
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) != 0)
		return -1;
	if (gcry_cipher_setkey(h, key, CB_KEYLEN) == 0 &&
	    gcry_cipher_setiv(h, out, 12) == 0 &&
	    gcry_cipher_authenticate(h, aad, aadlen) == 0 &&
	    gcry_cipher_encrypt(h, out + 12, n, in, n) == 0 &&
	    gcry_cipher_gettag(h, out + 12 + n, 16) == 0)
		rc = 0;
	gcry_cipher_close(h);
	return rc;
}

int
aead_open(const unsigned char key[CB_KEYLEN], const void *aad, size_t aadlen,
    const unsigned char *in, size_t len, void *out)
{
	gcry_cipher_hd_t h;
	size_t n;
	int rc = -1;

	if (len < CB_SEAL_OVERHEAD)
		return -1;
	n = len - CB_SEAL_OVERHEAD;
	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) != 0)
		return -1;
	if (gcry_cipher_setkey(h, key, CB_KEYLEN) == 0 &&
	    gcry_cipher_setiv(h, in, 12) == 0 &&
	    gcry_cipher_authenticate(h, aad, aadlen) == 0 &&
	    gcry_cipher_decrypt(h, out, n, in + 12, n) == 0 &&
	    gcry_cipher_checktag(h, in + 12 + n, 16) == 0)
		rc = 0;
	gcry_cipher_close(h);
	if (rc != 0)
		memset(out, 0, n);
	return rc;
}

int
masterkey_create(const char *path)
{
	unsigned char key[CB_KEYLEN];
	char hex[2 * CB_KEYLEN + 2];
	int fd, saved;
	ssize_t w;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	crypto_random(key, sizeof key);
	hex_encode(hex, key, sizeof key);
	hex[2 * CB_KEYLEN] = '\n';
	w = write(fd, hex, 2 * CB_KEYLEN + 1);
	if (w != 2 * CB_KEYLEN + 1 || fsync(fd) != 0) {
		saved = w < 0 ? errno : EIO;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	memset(key, 0, sizeof key);
	return close(fd);
}

int
masterkey_load(const char *path, unsigned char key[CB_KEYLEN], char *err,
    size_t errlen)
{
	char hex[2 * CB_KEYLEN + 8];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "master key %s: %s (run cubbyctl init)",
		    path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
		close(fd);
		snprintf(err, errlen, "master key %s: mode %03o is readable by "
		    "others; chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	n = read(fd, hex, sizeof hex - 1);
	close(fd);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	if (n != 2 * CB_KEYLEN || hex_decode(key, CB_KEYLEN, hex, (size_t)n) != 0) {
		snprintf(err, errlen, "master key %s: not a %d-byte hex key",
		    path, CB_KEYLEN);
		return -1;
	}
	memset(hex, 0, sizeof hex);
	return 0;
}

void
masterkey_derive(const unsigned char master[CB_KEYLEN], const char *label,
    unsigned char out[CB_KEYLEN])
{
	hmac_sha256(master, CB_KEYLEN, label, strlen(label), out);
}

/* ---- passwords ------------------------------------------------------- */

#define PW_N    16384UL
#define PW_P    1UL
#define PW_SALT 16
#define PW_LEN  32

static int
scrypt(const char *pass, const unsigned char *salt, size_t saltlen,
    unsigned long n, unsigned long p, unsigned char out[PW_LEN])
{
	return gcry_kdf_derive(pass, strlen(pass), GCRY_KDF_SCRYPT, (int)n, salt,
	    saltlen, p, PW_LEN, out) == 0 ? 0 : -1;
}

int
password_hash(const char *pass, char out[CB_PWHASH_MAX])
{
	unsigned char salt[PW_SALT], key[PW_LEN];
	char shex[2 * PW_SALT + 1], khex[2 * PW_LEN + 1];

	crypto_random(salt, sizeof salt);
	if (scrypt(pass, salt, sizeof salt, PW_N, PW_P, key) != 0)
		return -1;
	hex_encode(shex, salt, sizeof salt);
	hex_encode(khex, key, sizeof key);
	snprintf(out, CB_PWHASH_MAX, "scrypt$%lu$%lu$%s$%s", PW_N, PW_P, shex, khex);
	memset(key, 0, sizeof key);
	return 0;
}

int
password_verify(const char *stored, const char *pass)
{
	unsigned char salt[PW_SALT], want[PW_LEN], got[PW_LEN];
	unsigned long n, p;
	char *end;
	const char *s;
	int ok;

	if (stored == NULL || pass == NULL || strncmp(stored, "scrypt$", 7) != 0)
		return 0;
	s = stored + 7;
	n = strtoul(s, &end, 10);
	if (*end != '$' || n < 1024 || n > 1048576 || (n & (n - 1)) != 0)
		return 0;
	p = strtoul(end + 1, &end, 10);
	if (*end != '$' || p < 1 || p > 16)
		return 0;
	s = end + 1;
	if (strlen(s) != 2 * PW_SALT + 1 + 2 * PW_LEN || s[2 * PW_SALT] != '$' ||
	    hex_decode(salt, PW_SALT, s, 2 * PW_SALT) != 0 ||
	    hex_decode(want, PW_LEN, s + 2 * PW_SALT + 1, 2 * PW_LEN) != 0)
		return 0;
	if (scrypt(pass, salt, sizeof salt, n, p, got) != 0)
		return 0;
	ok = ct_equal(got, want, PW_LEN);
	memset(got, 0, sizeof got);
	return ok;
}

int
sha256_file(const char *path, char hex[65], long long *size)
{
	unsigned char buf[1 << 16];
	gcry_md_hd_t md;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || gcry_md_open(&md, GCRY_MD_SHA256, 0) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		gcry_md_write(md, buf, (size_t)n);
	e = errno;
	if (n == 0)
		hex_encode(hex, gcry_md_read(md, GCRY_MD_SHA256), 32);
	gcry_md_close(md);
	close(fd);
	if (n != 0) {
		errno = e;
		return -1;
	}
	if (size != NULL)
		*size = st.st_size;
	return 0;
}

/* base64.c - base64 encoders and a strict base64url decoder.
 * Reads client bytes (JWT parts): never writes past len*3/4 bytes. */
#include "config.h"

#include <string.h>

#include "cubby/base64.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

static size_t
encode(char *out, const unsigned char *p, size_t n, const char *alpha, int pad)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = alpha[p[i] >> 2];
		out[o++] = alpha[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = alpha[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		out[o++] = alpha[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = alpha[p[i] >> 2];
		out[o++] = alpha[(p[i] & 3) << 4];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		out[o++] = alpha[p[i] >> 2];
		out[o++] = alpha[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = alpha[(p[i + 1] & 15) << 2];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

void
base64_encode(char *out, const void *in, size_t n)
{
	encode(out, in, n, std_alpha, 1);
}

size_t
base64url_encode(char *out, const void *in, size_t n)
{
	return encode(out, in, n, url_alpha, 0);
}

static int
alphaval(const char *alpha, unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(alpha, c)) == NULL)
		return -1;
	return (int)(p - alpha);
}

static long decode(void *outp, const char *in, size_t len, const char *alpha);

long
base64url_decode(void *outp, const char *in, size_t len)
{
	return decode(outp, in, len, url_alpha);
}

long
base64_decode(void *outp, const char *in, size_t len)
{
	if (len % 4 != 0 && len % 4 != 2 && len % 4 != 3)
		return -1;
	if (len >= 1 && in[len - 1] == '=')
		len--;
	if (len >= 1 && in[len - 1] == '=')
		len--;
	return decode(outp, in, len, std_alpha);
}

static long
decode(void *outp, const char *in, size_t len, const char *alpha)
{
	unsigned char *out = outp;
	size_t o = 0, i;
	unsigned acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = alphaval(alpha, (unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: only one encoding per byte string. */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* uuid.c - version-4 UUIDs from libgcrypt's strong random bytes. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cubby/crypto.h"
#include "cubby/uuid.h"

void
uuid_new(char out[37])
{
	unsigned char b[16];
	char hex[33];

	crypto_random(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	hex_encode(hex, b, sizeof b);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
}

int
uuid_valid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	for (size_t i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == '-' ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[sizeof shape - 1] == '\0';
}

void
uuid_compact(const char *uuid, char out[33])
{
	size_t k = 0;

	for (size_t i = 0; uuid[i] && k < 32; i++)
		if (uuid[i] != '-')
			out[k++] = uuid[i];
	out[k] = '\0';
}

int
uuid_from_prefixed(const char *s, const char *prefix, char out[37])
{
	size_t pl = strlen(prefix);

	if (strncmp(s, prefix, pl) != 0 || strlen(s + pl) != 32)
		return -1;
	s += pl;
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", s, s + 8, s + 12, s + 16, s + 20);
	return uuid_valid(out) ? 0 : -1;
}

/* fuzz_outbound.c - the SSRF guard's two parsers of client bytes: the
 * host and port of a webhook or storage-connection URL (url_host), and
 * the judging of any address (addr_is_internal). Checks, beyond "no
 * crash": a parsed host is inside its buffer and holds none of the URL's
 * delimiters, the port is a port, and every IPv6 form that carries an
 * IPv4 address (mapped, translated, NAT64, 6to4) is judged as that
 * address is. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cubby/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static int
v6_internal(const unsigned char b[16])
{
	struct sockaddr_in6 s6;

	memset(&s6, 0, sizeof s6);
	s6.sin6_family = AF_INET6;
	memcpy(s6.sin6_addr.s6_addr, b, 16);
	return addr_is_internal(&s6);
}

static void
addresses(const uint8_t *d, size_t n)
{
	unsigned char b[16], v4[4];
	struct sockaddr_in s4;
	int inside;

	if (n < 16)
		return;
	memcpy(b, d, 16);
	(void)v6_internal(b);
	memcpy(v4, d, 4);
	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	memcpy(&s4.sin_addr.s_addr, v4, 4);
	inside = addr_is_internal(&s4);
	/* ::ffff:a.b.c.d */
	memset(b, 0, 16);
	b[10] = b[11] = 0xff;
	memcpy(b + 12, v4, 4);
	if (v6_internal(b) != inside)
		abort();
	/* ::ffff:0:a.b.c.d */
	memset(b, 0, 16);
	b[8] = b[9] = 0xff;
	memcpy(b + 12, v4, 4);
	if (v6_internal(b) != inside)
		abort();
	/* 64:ff9b::a.b.c.d */
	memset(b, 0, 16);
	b[1] = 0x64;
	b[2] = 0xff;
	b[3] = 0x9b;
	memcpy(b + 12, v4, 4);
	if (v6_internal(b) != inside)
		abort();
	/* 2002:a.b.c.d::/48 with any rest */
	memcpy(b, d, 16);
	b[0] = 0x20;
	b[1] = 0x02;
	memcpy(b + 2, v4, 4);
	if (v6_internal(b) != inside)
		abort();
	/* ::a.b.c.d and the loopback are internal whatever is inside */
	memset(b, 0, 16);
	memcpy(b + 12, v4, 4);
	if (!v6_internal(b))
		abort();
}

static void
url(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1), host[256];
	int port = -1;

	if (s == NULL)
		return;
	memcpy(s, d, n);
	s[n] = '\0';
	memset(host, 'x', sizeof host);
	if (url_host(s, host, sizeof host, &port) == 0) {
		size_t hl = strnlen(host, sizeof host);
		if (hl == sizeof host || port < 1 || port > 65535)
			abort();
		if (strpbrk(host, "/?#@") != NULL)
			abort();
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	addresses(data, n);
	url(data, n);
	return 0;
}

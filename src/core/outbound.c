/* outbound.c - see outbound.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "cubby/outbound.h"
#include "cubby/util.h"

static int
v4_internal(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a >> 16) == 0xa9fe ||                      /* 169.254/16 link-local */
	    (a >> 20) == 0xac1 ||                       /* 172.16/12 */
	    (a >> 16) == 0xc0a8 ||                      /* 192.168/16 */
	    (a >> 22) == (100u << 2 | 1) ||             /* 100.64/10 CGNAT */
	    (a >> 8) == 0xc00000 || (a >> 8) == 0xc00002 || /* 192.0.0/24, 192.0.2/24 */
	    (a >> 17) == (0xc612 >> 1) ||               /* 198.18/15 */
	    (a >> 8) == 0xc63364 || (a >> 8) == 0xcb0071 || /* 198.51.100/24, 203.0.113/24 */
	    (a >> 28) >= 0xe;                           /* multicast, reserved, broadcast */
}

int
addr_is_internal(const void *sa_)
{
	const struct sockaddr *sa = sa_;

	if (sa->sa_family == AF_INET)
		return v4_internal(ntohl(((const struct sockaddr_in *)sa_)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6) {
		const unsigned char *b = ((const struct sockaddr_in6 *)sa_)->sin6_addr.s6_addr;
		static const unsigned char zero[16];
		static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
#define V4_AT(i) ((uint32_t)b[i] << 24 | (uint32_t)b[(i) + 1] << 16 | \
	(uint32_t)b[(i) + 2] << 8 | b[(i) + 3])
		/* ::/96: ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d,
		 * which some stacks still route to a.b.c.d: all internal. */
		if (memcmp(b, zero, 12) == 0)
			return 1;
		/* ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated):
		 * the IPv4 address inside decides. */
		if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
			return v4_internal(V4_AT(12));
		if (memcmp(b, zero, 8) == 0 && b[8] == 0xff && b[9] == 0xff &&
		    b[10] == 0 && b[11] == 0)
			return v4_internal(V4_AT(12));
		/* 64:ff9b::/96 (NAT64): the gateway reaches the IPv4 inside;
		 * 64:ff9b:1::/48 (local-use NAT64) is internal by design. */
		if (memcmp(b, nat64, 12) == 0)
			return v4_internal(V4_AT(12));
		if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
		    b[4] == 0 && b[5] == 1)
			return 1;
		/* 2002::/16 (6to4): the relay reaches the IPv4 in bytes 2..5. */
		if (b[0] == 0x20 && b[1] == 0x02)
			return v4_internal(V4_AT(2));
		/* 2001::/32 (Teredo) hides an IPv4 address too: internal. */
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
			return 1;
		/* 100::/64 (discard-only) */
		if (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0)
			return 1;
#undef V4_AT
		return (b[0] & 0xfe) == 0xfc ||             /* fc00::/7 unique local */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
		    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10 site-local */
		    b[0] == 0xff ||                         /* multicast */
		    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8); /* doc */
	}
	return 1;
}

/* The host and port of an http(s) URL, into host/port. 0 or -1. */
int
url_host(const char *url, char *host, size_t hlen, int *port)
{
	const char *p, *end;
	long long v;

	if (has_prefix_ci(url, "https://")) {
		p = url + 8;
		*port = 443;
	} else if (has_prefix_ci(url, "http://")) {
		p = url + 7;
		*port = 80;
	} else {
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return -1;      /* no credentials in the URL */
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL || (size_t)(rb - p - 1) >= hlen)
			return -1;
		memcpy(host, p + 1, (size_t)(rb - p - 1));
		host[rb - p - 1] = '\0';
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *hend = colon ? colon : end;
		if (hend == p || (size_t)(hend - p) >= hlen)
			return -1;
		memcpy(host, p, (size_t)(hend - p));
		host[hend - p] = '\0';
		p = hend;
	}
	if (*p == ':') {
		char num[8];
		size_t n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof num)
			return -1;
		memcpy(num, p + 1, n);
		num[n] = '\0';
		if (parse_ll(num, 1, 65535, &v) != 0)
			return -1;
		*port = (int)v;
	}
	return 0;
}

int
outbound_pin(const char *url, int allow_private, const char *setting,
    char *pin, size_t pinlen, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], ip[INET6_ADDRSTRLEN];
	int port, gai;

	if (url_host(url, host, sizeof host, &port) != 0) {
		snprintf(why, whylen, "not an http(s) URL");
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	/* Names under .localhost are loopback (RFC 6761), whatever the
	 * resolver knows: bucket.localhost, a virtual-hosted bucket on a
	 * local store. (Internal, so refused unless allowed.) */
	{
		size_t hl = strlen(host);
		if (hl > 10 && strcasecmp(host + hl - 10, ".localhost") == 0) {
			if (!allow_private) {
				snprintf(why, whylen, "refused: %s is a loopback name (%s is off)",
				    host, setting);
				return -1;
			}
			if ((size_t)snprintf(pin, pinlen, "%s:%d:127.0.0.1", host, port) >= pinlen) {
				snprintf(why, whylen, "host name too long");
				return -1;
			}
			return 0;
		}
	}
	if ((gai = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	/* Every address the name has must be acceptable: no mixing a public
	 * address with a private one to slip through. */
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (addr_is_internal(ai->ai_addr) && !allow_private) {
			snprintf(why, whylen, "refused: %s resolves to an internal "
			    "address (%s is off)", host, setting);
			freeaddrinfo(res);
			return -1;
		}
	ip[0] = '\0';
	inet_ntop(res->ai_family, res->ai_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr,
	    ip, sizeof ip);
	freeaddrinfo(res);
	/* A literal address in the URL is what curl connects to, no name
	 * is looked up: nothing to pin (curl refuses a RESOLVE entry for an
	 * IPv6 literal host). A name is pinned as HOST:PORT:ADDRESS, an IPv6
	 * address in brackets. */
	{
		unsigned char lit[16];
		if (inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1) {
			*pin = '\0';
			return 0;
		}
	}
	if ((size_t)snprintf(pin, pinlen, strchr(ip, ':') ? "%s:%d:[%s]" : "%s:%d:%s",
	    host, port, ip) >= pinlen) {
		snprintf(why, whylen, "host name too long");
		return -1;
	}
	return 0;
}

void
outbound_curl(void *curl, void *resolve)
{
	CURL *c = curl;

	curl_easy_setopt(c, CURLOPT_RESOLVE, (struct curl_slist *)resolve);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

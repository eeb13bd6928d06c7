/* outbound.h - the SSRF guard for every request Cubby makes (webhooks,
 * S3-compatible stores): the host is resolved once, every address it has
 * must be a public unicast one unless the operator allows internal ones,
 * and curl is pinned to the address that was checked (CURLOPT_RESOLVE), so
 * a second lookup cannot swap it for another. */
#ifndef CUBBY_OUTBOUND_H
#define CUBBY_OUTBOUND_H

#include <stddef.h>

#define OUTBOUND_PIN_MAX 320

/* 1 when addr (an IPv4 or IPv6 sockaddr) is loopback, link-local, private,
 * unspecified, multicast or otherwise not a public unicast address. */
int addr_is_internal(const void *sockaddr);
/* The host and port of an http(s) URL (no userinfo allowed). 0 or -1. */
int url_host(const char *url, char *host, size_t hlen, int *port);
/* Resolve url's host and check it; the CURLOPT_RESOLVE entry
 * ("host:port:addr") into pin, or "" when the host is a literal address
 * (nothing to resolve, nothing to pin). allow_private: internal addresses are
 * fine (setting names the config key that allows them, for the message).
 * 0, or -1 with the reason in why. */
int outbound_pin(const char *url, int allow_private, const char *setting,
    char *pin, size_t pinlen, char *why, size_t whylen);

/* The guarded part of a curl handle's setup: pinned to the checked
 * address (resolve holds outbound_pin's entry), no redirects followed,
 * http and https only, no signals. */
void outbound_curl(void *curl, void *resolve);

#endif

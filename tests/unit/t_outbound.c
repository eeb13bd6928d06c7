/* t_outbound.c - the SSRF guard's address classes, the IPv6 forms that
 * embed an IPv4 address included (the review found them passing). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cubby/outbound.h"
#include "tap.h"

static int
internal(const char *a)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
			return -1;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
			return -1;
	}
	return addr_is_internal(&ss);
}

int
main(void)
{
	static const char *const in[] = {
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "::1", "::ffff:127.0.0.1",
		"::ffff:10.0.0.1", "::127.0.0.1", "::10.0.0.1", "::8.8.8.8", "64:ff9b::127.0.0.1",
		"64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::", "2002:c0a8:101::1",
		"::ffff:0:127.0.0.1", "::ffff:0:a00:1", "fec0::1", "feff::1", "100::1", "100::",
		"fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "2001:db8::1", "2001:0:4136:e378::1",
	};
	static const char *const out[] = {
		"8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
		"::ffff:0:808:808", "2606:4700:4700::1111", "2a00:1450:4001::200e", "100:0:0:1::1",
	};

	for (size_t i = 0; i < sizeof in / sizeof *in; i++)
		is_int(internal(in[i]), 1, "internal: %s", in[i]);
	for (size_t i = 0; i < sizeof out / sizeof *out; i++)
		is_int(internal(out[i]), 0, "public: %s", out[i]);
	return done_testing();
}

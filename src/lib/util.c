/* util.c - bounded number parsing, clocks, small string helpers.
 * Never accept a number with trailing garbage or out of range. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cubby/util.h"

int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_size(const char *s, long long min, long long max, long long *out)
{
	char tmp[64];
	size_t n;
	long long mul = 1, v;

	if (s == NULL || (n = strlen(s)) == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n + 1);
	switch (tmp[n - 1]) {
	case 'k': case 'K': mul = 1024LL; break;
	case 'm': case 'M': mul = 1024LL * 1024; break;
	case 'g': case 'G': mul = 1024LL * 1024 * 1024; break;
	default: break;
	}
	if (mul != 1)
		tmp[n - 1] = '\0';
	if (parse_ll(tmp, 0, INT64_MAX / mul, &v) != 0)
		return -1;
	v *= mul;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

uint64_t
now_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t
now_unix(void)
{
	return (int64_t)time(NULL);
}

int64_t
now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fmt_iso8601_ms(char *out, size_t outlen, int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, outlen - n, ".%03dZ", (int)(ms % 1000));
}

size_t
strlcpy_cb(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if (dstlen) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
parse_iso8601_ms(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0, off = 0;
	const char *p;

	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	p = s + 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
			return -1;
		p += 9;
		if (*p == '.') {
			int digits = 0;
			for (p++; *p >= '0' && *p <= '9'; p++, digits++)
				if (digits < 3)
					ms = ms * 10 + (*p - '0');
			if (digits == 0)
				return -1;
			for (; digits < 3; digits++)
				ms *= 10;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
				return -1;
			off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
			p += 6;
		} else {
			return -1;
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = ((int64_t)timegm(&tm) - off) * 1000 + ms;
	return 0;
}

int
probe_write(const char *prefix)
{
	char probe[4200];
	int fd, e = 0;

	if (snprintf(probe, sizeof probe, "%s.probe.%ld", prefix, (long)getpid()) >=
	    (int)sizeof probe)
		return 0;
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : errno;
	if (write(fd, "x", 1) != 1)
		e = errno;
	close(fd);
	unlink(probe);
	return e;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

int
http_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
	const char *dash;
	long long a, b;
	char tmp[48];

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if ((dash = strchr(h, '-')) == NULL || (size_t)(dash - h) >= sizeof tmp || strlen(dash + 1) >= sizeof tmp)
		return 0;
	memcpy(tmp, h, (size_t)(dash - h));
	tmp[dash - h] = '\0';
	if (tmp[0] == '\0') {                       /* suffix: last n bytes */
		if (parse_ll(dash + 1, 1, INT64_MAX, &b) != 0)
			return 0;
		if (size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	if (parse_ll(tmp, 0, INT64_MAX, &a) != 0)
		return 0;
	if (dash[1] == '\0')
		b = size - 1;
	else if (parse_ll(dash + 1, a, INT64_MAX, &b) != 0)
		return 0;
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

const char *
json_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* listen.c - the listening socket: a unix socket with settable mode and
 * owner, a TCP address, fd 0 handed over by a spawner, or fd 3 handed
 * over by systemd socket activation.
 * Never unlinks anything but a stale socket at the configured path. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cubby/pool.h"
#include "cubby/util.h"

int
fd_is_listener(int fd)
{
	int v = 0, type = 0;
	socklen_t len = sizeof v;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || !v)
		return 0;
	len = sizeof type;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_STREAM;
}

/* systemd socket activation (sd_listen_fds(3), without libsystemd): the
 * manager sets LISTEN_PID to our pid and LISTEN_FDS to the number of
 * sockets passed from fd 3 on. Returns fd 3 when exactly one listening
 * stream socket was passed to this process, -1 when none was, and -2
 * (with err set) when the handover is not one we can serve. The variables
 * are removed so that nothing we start takes them for its own. */
int
listen_activated(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long long p, n;
	int flags;

	err[0] = '\0';
	if (pid == NULL || fds == NULL)
		return -1;
	if (parse_ll(pid, 1, 0x7fffffff, &p) != 0 || (pid_t)p != getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (parse_ll(fds, 0, 1024, &n) != 0 || n != 1) {
		snprintf(err, errlen, "socket activation: LISTEN_FDS=%s, expected "
		    "one socket (one ListenStream= in cubby.socket)", fds);
		return -2;
	}
	if (!fd_is_listener(3)) {
		snprintf(err, errlen, "socket activation: fd 3 is not a listening "
		    "stream socket");
		return -2;
	}
	flags = fcntl(3, F_GETFD);
	if (flags < 0 || fcntl(3, F_SETFD, flags | FD_CLOEXEC) != 0) {
		snprintf(err, errlen, "socket activation: fd 3: %s", strerror(errno));
		return -2;
	}
	return 3;
}

static int
set_owner(const char *path, const char *owner, char *err, size_t errlen)
{
	char user[128], *group;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	strlcpy_cb(user, owner, sizeof user);
	if ((group = strchr(user, ':')) != NULL)
		*group++ = '\0';
	if (*user) {
		struct passwd *pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(err, errlen, "listen_owner: no user '%s'", user);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (group && *group) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(err, errlen, "listen_owner: no group '%s'", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (chown(path, uid, gid) != 0) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
listen_unix(const char *path, long long mode, const char *owner, int backlog,
    char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strlcpy_cb(sa.sun_path, path, sizeof sa.sun_path);
	/* Remove a stale socket, never a regular file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    chmod(path, (mode_t)mode) != 0 ||
	    (*owner && set_owner(path, owner, err, errlen) != 0) ||
	    listen(fd, backlog) != 0) {
		if (!err[0])
			snprintf(err, errlen, "listen on unix:%s: %s", path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
listen_tcp(const char *spec, int backlog, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;
	size_t hl;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		snprintf(err, errlen, "listen: expected unix:/path or host:port, "
		    "got '%s'", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host) {
		snprintf(err, errlen, "listen: host too long");
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(err, errlen, "listen on %s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int
listen_open(const char *spec, long long mode, const char *owner, int backlog,
    char *err, size_t errlen)
{
	err[0] = '\0';
	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec + 5, mode, owner, backlog, err, errlen);
	return listen_tcp(spec, backlog, err, errlen);
}

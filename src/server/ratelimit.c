/* ratelimit.c - see ratelimit.h. One process-shared, robust mutex guards
 * the table: the critical sections are a few probes long, and a worker
 * killed while holding it (SIGKILL, a crash) leaves it recoverable, not
 * held forever.
 *
 * The table is a file in the data directory, mapped shared, so that every
 * process serving that data directory counts against the same windows: the
 * workers of one pool, several pools (mod_fcgid starts one per busy
 * process), and one-request CGI processes. Each mapper holds a shared
 * flock on the file for as long as it lives (workers inherit it). The
 * table is reset only when it cannot be trusted: a layout this binary
 * does not know, or written before the last boot (a mutex held when the
 * machine went down would otherwise never be released). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/crypto.h"
#include "cubby/log.h"
#include "cubby/ratelimit.h"
#include "cubby/util.h"

#define RL_SLOTS  4096
#define RL_PROBES 8
#define RL_MAGIC  0x63627232u   /* "cbr2": bump when the layout changes */

struct rl_slot {
	uint64_t key;
	int64_t window_start;   /* ms */
	int64_t window_end;     /* ms */
	uint32_t count;
	uint32_t pinned;        /* an attempt count: never taken by another key */
};

struct rl_table {
	uint32_t magic;
	uint32_t size;          /* sizeof (struct rl_table) */
	char boot_id[40];       /* /proc/sys/kernel/random/boot_id when made */
	pthread_mutex_t lock;
	struct rl_slot slots[RL_SLOTS];
};

static struct rl_table *tab;

static void
boot_id(char out[40])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	memset(out, 0, 40);
	if (f != NULL) {
		if (fgets(out, 40, f) == NULL)
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

/* A fresh table in p: zeroed, then the mutex, then the header last. */
static int
table_make(struct rl_table *p, const char *boot)
{
	pthread_mutexattr_t attr;
	int rc;

	memset(p, 0, sizeof *p);
	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&p->lock, &attr) != 0 ? -1 : 0;
	pthread_mutexattr_destroy(&attr);
	memcpy(p->boot_id, boot, sizeof p->boot_id);
	p->size = (uint32_t)sizeof *p;
	p->magic = RL_MAGIC;
	return rc;
}

static int
table_usable(const struct rl_table *p, const char *boot)
{
	return p->magic == RL_MAGIC && p->size == sizeof *p &&
	    memcmp(p->boot_id, boot, sizeof p->boot_id) == 0;
}

/* Map path shared; 0, or -1 when it cannot be used (logged). */
static int
map_file(const char *path)
{
	char boot[40];
	struct stat st;
	void *p = MAP_FAILED;
	int fd, alone;

	boot_id(boot);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warn("rate limits: %s: %s", path, strerror(errno));
		return -1;
	}
	/* Nobody else has it mapped when an exclusive lock is free. */
	alone = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (!alone && flock(fd, LOCK_SH) != 0)
		goto fail;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (st.st_size != (off_t)sizeof *tab) {
		if (!alone) {
			log_warn("rate limits: %s is in use by a different Cubby "
			    "version; this process counts on its own", path);
			errno = 0;
			goto fail;
		}
		if (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof *tab) != 0)
			goto fail;
	}
	p = mmap(NULL, sizeof *tab, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (!table_usable(p, boot)) {
		if (!alone) {
			log_warn("rate limits: %s is in use by a different Cubby "
			    "version; this process counts on its own", path);
			errno = 0;
			goto fail;
		}
		if (table_make(p, boot) != 0 || msync(p, sizeof *tab, MS_SYNC) != 0)
			goto fail;
	}
	if (alone && flock(fd, LOCK_SH) != 0)
		goto fail;
	tab = p;
	return 0;   /* fd stays open: it holds the shared lock */
fail:
	if (errno)
		log_warn("rate limits: %s: %s", path, strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, sizeof *tab);
	close(fd);
	return -1;
}

int
ratelimit_init(const char *path)
{
	static const char no_boot[40];  /* a table of this process: no boot id */
	void *p;

	if (tab != NULL)
		return 0;
	if (path != NULL && map_file(path) == 0)
		return 0;
	p = mmap(NULL, sizeof *tab, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (table_make(p, no_boot) != 0) {
		munmap(p, sizeof *tab);
		return -1;
	}
	tab = p;
	return 0;
}

static void
lock(void)
{
	/* A holder that died left the table as it was mid-update: a count
	 * or a window may be off by one, which is harmless here. */
	if (pthread_mutex_lock(&tab->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&tab->lock);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&tab->lock);
}

static uint64_t
hash_key(const char *key)
{
	unsigned char h[32];
	uint64_t v = 0;

	sha256(key, strlen(key), h);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v ? v : 1;   /* 0 marks a free slot */
}

/* The slot of key (locked): its own, else a free or expired one, else the
 * oldest of its probes that is not pinned, else NULL (every probe holds a
 * live attempt count: those are never evicted, or traffic from others
 * could reset a password-failure count). *found says whether it was its
 * own. */
static struct rl_slot *
slot_for(uint64_t k, int64_t now, int *found)
{
	struct rl_slot *spare = NULL, *oldest = NULL;

	for (int i = 0; i < RL_PROBES; i++) {
		struct rl_slot *s = &tab->slots[(k + (uint64_t)i) % RL_SLOTS];
		if (s->key == k) {
			*found = 1;
			return s;
		}
		if (spare == NULL && (s->key == 0 || s->window_end <= now))
			spare = s;
		if (!s->pinned && (oldest == NULL || s->window_start < oldest->window_start))
			oldest = s;
	}
	*found = 0;
	return spare ? spare : oldest;
}

/* key's slot (locked) with a window open now: its own, or a new one; NULL
 * when there is no slot to be had. */
static struct rl_slot *
window_of(uint64_t k, int64_t now, int window_s, int pinned)
{
	int found;
	struct rl_slot *s = slot_for(k, now, &found);

	if (s == NULL)
		return NULL;
	if (!found || s->window_end <= now) {
		s->key = k;
		s->window_start = now;
		s->window_end = now + (int64_t)window_s * 1000;
		s->count = 0;
		s->pinned = (uint32_t)pinned;
	}
	return s;
}

int
ratelimit_attempt(const char *key, int max, int window_s)
{
	uint64_t k;
	int64_t now = now_unix_ms();
	int wait = 0;
	struct rl_slot *s;

	if (tab == NULL && ratelimit_init(NULL) != 0)
		return window_s;
	k = hash_key(key);
	lock();
	s = window_of(k, now, window_s, 1);
	if (s == NULL) {
		/* No slot: refuse rather than count nothing (fail closed). */
		wait = window_s;
	} else if (s->count >= (uint32_t)max) {
		wait = (int)((s->window_end - now + 999) / 1000);
		if (wait < 1)
			wait = 1;
	} else {
		s->count++;
	}
	unlock();
	return wait;
}

void
ratelimit_forgive(const char *key)
{
	uint64_t k;
	int64_t now = now_unix_ms();
	int found;
	struct rl_slot *s;

	if (tab == NULL)
		return;
	k = hash_key(key);
	lock();
	s = slot_for(k, now, &found);
	if (s != NULL && found && s->window_end > now && s->count > 0)
		s->count--;
	unlock();
}

int
ratelimit_hit(const char *key, int max, int window_s, int *remaining, int *reset_s)
{
	uint64_t k;
	int64_t now = now_unix_ms();
	int wait = 0;
	struct rl_slot *s;

	*remaining = max;
	*reset_s = window_s;
	if (tab == NULL && ratelimit_init(NULL) != 0)
		return 0;
	k = hash_key(key);
	lock();
	s = window_of(k, now, window_s, 0);
	if (s == NULL) {
		/* every probe holds a live attempt count: a request rate is
		 * not worth evicting one; let it through uncounted */
		unlock();
		return 0;
	}
	if (s->count >= (uint32_t)max) {
		wait = (int)((s->window_end - now + 999) / 1000);
		if (wait < 1)
			wait = 1;
	} else {
		s->count++;
	}
	*remaining = max - (int)s->count;
	*reset_s = (int)((s->window_end - now + 999) / 1000);
	unlock();
	return wait;
}

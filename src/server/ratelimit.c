/* ratelimit.c - see ratelimit.h. One process-shared, robust mutex guards
 * the table: the critical sections are a few probes long, and a worker
 * killed while holding it (SIGKILL, a crash) leaves it recoverable, not
 * held forever. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "cubby/crypto.h"
#include "cubby/ratelimit.h"
#include "cubby/util.h"

#define RL_SLOTS  4096
#define RL_PROBES 8

struct rl_slot {
	uint64_t key;
	int64_t window_start;   /* ms */
	int64_t window_end;     /* ms */
	uint32_t count;
	uint32_t pad;
};

struct rl_table {
	pthread_mutex_t lock;
	struct rl_slot slots[RL_SLOTS];
};

static struct rl_table *tab;

int
ratelimit_init(void)
{
	pthread_mutexattr_t attr;
	void *p;

	if (tab != NULL)
		return 0;
	p = mmap(NULL, sizeof *tab, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof *tab);
	if (pthread_mutexattr_init(&attr) != 0)
		goto fail;
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&((struct rl_table *)p)->lock, &attr) != 0) {
		pthread_mutexattr_destroy(&attr);
		goto fail;
	}
	pthread_mutexattr_destroy(&attr);
	tab = p;
	return 0;
fail:
	munmap(p, sizeof *tab);
	return -1;
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
 * oldest of its probes. *found says whether it was its own. */
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
		if (oldest == NULL || s->window_start < oldest->window_start)
			oldest = s;
	}
	*found = 0;
	return spare ? spare : oldest;
}

int
ratelimit_wait(const char *key, int max, int window_s)
{
	uint64_t k;
	int64_t now = now_unix_ms();
	int found, wait = 0;
	struct rl_slot *s;

	(void)window_s;
	if (tab == NULL && ratelimit_init() != 0)
		return 0;
	k = hash_key(key);
	lock();
	s = slot_for(k, now, &found);
	if (found && s->window_end > now && s->count >= (uint32_t)max)
		wait = (int)((s->window_end - now + 999) / 1000);
	unlock();
	return wait;
}

void
ratelimit_fail(const char *key, int window_s)
{
	uint64_t k;
	int64_t now = now_unix_ms();
	int found;
	struct rl_slot *s;

	if (tab == NULL && ratelimit_init() != 0)
		return;
	k = hash_key(key);
	lock();
	s = slot_for(k, now, &found);
	if (!found || s->window_end <= now) {
		s->key = k;
		s->window_start = now;
		s->window_end = now + (int64_t)window_s * 1000;
		s->count = 0;
	}
	s->count++;
	unlock();
}

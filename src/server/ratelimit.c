/* ratelimit.c - see ratelimit.h. One spinlock guards the table: the
 * critical sections are a few probes long, and only failed password
 * attempts take it. */
#include "config.h"

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
	int lock;
	int pad;
	struct rl_slot slots[RL_SLOTS];
};

static struct rl_table *tab;

int
ratelimit_init(void)
{
	void *p;

	if (tab != NULL)
		return 0;
	p = mmap(NULL, sizeof *tab, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof *tab);
	tab = p;
	return 0;
}

static void
lock(void)
{
	while (__atomic_exchange_n(&tab->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&tab->lock, __ATOMIC_RELAXED))
			;
}

static void
unlock(void)
{
	__atomic_store_n(&tab->lock, 0, __ATOMIC_RELEASE);
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

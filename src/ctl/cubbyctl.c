/* cubbyctl.c - the operator tool, on the same config and database as the
 * pool: init, migrate, rotate-admin-key.
 * A generated secret is printed once to stdout and stored only as a keyed
 * hash; it is never written to a log. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cubby/arena.h"
#include "cubby/config.h"
#include "cubby/core.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"
#include "cubby/place.h"
#include "cubby/tenant.h"
#include "cubby/webhook.h"
#include "cubby/util.h"
#include "ctl/maint.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cubbyctl [-c FILE] COMMAND\n"
	    "commands:\n"
	    "  init               create the data directory, database and master key,\n"
	    "                     and print a new admin key (once)\n"
	    "  migrate            bring the database schema up to this version\n"
	    "  rotate-admin-key   revoke the admin keys and print a new one\n"
	    "  tenant create NAME [--quota BYTES] [--types TYPE,...]\n"
	    "                     create a tenant; prints its API key (once)\n"
	    "  tenant list        list tenants\n"
	    "  tenant show ID|NAME  one tenant and its keys\n"
	    "  tenant update ID|NAME [--name N] [--quota BYTES] [--types T,...]\n"
	    "  tenant delete ID|NAME  the tenant, its keys, files and their bytes\n"
	    "  tenant rotate-webhook-secret ID|NAME  a new webhook secret (the old signs a day more)\n"
	    "  key create ID|NAME --name NAME --scope read|write|admin\n"
	    "                     a new API key for a tenant (printed once)\n"
	    "  key list ID|NAME   a tenant's keys (never the keys themselves)\n"
	    "  key revoke KEY_ID  revoke a key at once\n"
	    "  check              integrity, objects without blobs, blobs without\n"
	    "                     objects, totals; exits 1 if anything is wrong\n"
	    "  gc [--dry-run]     remove files no row names (older than an hour)\n"
	    "                     and expired key-value entries\n"
	    "  stats              counts and sizes\n"
	    "  blobs-to-s3 [--dry-run]\n"
	    "                     copy data_dir/blobs into the s3_* bucket (before\n"
	    "                     switching blob_backend to s3)\n"
	    "  backup DIR [--with-blobs]\n"
	    "                     snapshot the database (while the pool serves), the\n"
	    "                     master key and a manifest of blobs into DIR\n"
	    "  restore DIR [--force]\n"
	    "                     put a backup in place and check its blobs\n"
	    "  version            print the version\n");
}

static int
open_db(const struct cb_config *cfg, int flags, struct db **db)
{
	char err[512];

	if (db_open(cfg, flags, db, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		return -1;
	}
	return 0;
}

static int
print_new_admin_key(const struct cb_config *cfg, struct db *db, int revoke_old)
{
	unsigned char master[CB_KEYLEN];
	char err[512], key[CB_APIKEY_MAX];

	if (masterkey_load(cfg->master_key_file, master, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		return 1;
	}
	if (admin_key_create(db, master, revoke_old, key, sizeof key) != 0) {
		fprintf(stderr, "cubbyctl: cannot store the admin key: %s\n",
		    db_errmsg(db));
		return 1;
	}
	printf("admin key (shown once, store it now): %s\n", key);
	memset(key, 0, sizeof key);
	memset(master, 0, sizeof master);
	return 0;
}

static int
cmd_init(const struct cb_config *cfg)
{
	struct db *db;
	char err[512];
	int from, to, rc, have_key;

	if (mkdir_p(cfg->data_dir, 0750) != 0) {
		fprintf(stderr, "cubbyctl: cannot create %s: %s\n", cfg->data_dir,
		    strerror(errno));
		return 1;
	}
	if (masterkey_create(cfg->master_key_file) == 0)
		printf("created master key %s (mode 0600; back it up: without it "
		    "stored secrets cannot be read)\n", cfg->master_key_file);
	else if (errno != EEXIST) {
		fprintf(stderr, "cubbyctl: cannot create %s: %s\n",
		    cfg->master_key_file, strerror(errno));
		return 1;
	}
	if (open_db(cfg, DB_OPEN_CREATE, &db) != 0)
		return 1;
	if (db_migrate(db, &from, &to, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		db_close(db);
		return 1;
	}
	printf("database %s at schema %d\n", cfg->db_path, to);
	have_key = admin_key_count(db);
	if (have_key < 0) {
		fprintf(stderr, "cubbyctl: %s\n", db_errmsg(db));
		rc = 1;
	} else if (have_key > 0) {
		printf("already initialised: an admin key exists (it was shown at "
		    "init; 'cubbyctl rotate-admin-key' makes a new one)\n");
		rc = 0;
	} else {
		rc = print_new_admin_key(cfg, db, 0);
	}
	db_close(db);
	return rc;
}

/* The database at this binary's schema, or a message saying why not. */
static int
open_ready(const struct cb_config *cfg, struct db **db)
{
	char err[512];

	if (access(cfg->db_path, F_OK) != 0) {
		fprintf(stderr, "cubbyctl: no database at %s (data_dir is %s): wrong "
		    "config, or run 'cubbyctl init'\n", cfg->db_path, cfg->data_dir);
		return -1;
	}
	if (db_open_current(cfg, db, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		return -1;
	}
	/* Objects in tenants' own buckets are looked at with their
	 * connections' credentials, opened with the master key. */
	{
		unsigned char master[CB_KEYLEN];
		if (masterkey_load(cfg->master_key_file, master, err, sizeof err) == 0)
			place_keyring(master);
		explicit_bzero(master, sizeof master);
	}
	return 0;
}

/* check, gc, stats, blobs-to-s3: on a database at this binary's schema. */
static int
cmd_maint(const struct cb_config *cfg, const char *cmd, int argc, char **argv)
{
	struct db *db;
	int dry = argc == 1 && (strcmp(cmd, "gc") == 0 || strcmp(cmd, "blobs-to-s3") == 0) &&
	    strcmp(argv[0], "--dry-run") == 0;
	int rc;

	if (argc > dry) {
		usage(stderr);
		return 2;
	}
	if (open_ready(cfg, &db) != 0)
		return 1;
	rc = strcmp(cmd, "check") == 0 ? ctl_check(cfg, db) :
	    strcmp(cmd, "gc") == 0 ? ctl_gc(cfg, db, dry) :
	    strcmp(cmd, "blobs-to-s3") == 0 ? ctl_blobs_to_s3(cfg, db, dry) : ctl_stats(cfg, db);
	db_close(db);
	return rc;
}

static int
cmd_backup(const struct cb_config *cfg, const char *cmd, int argc, char **argv)
{
	const char *flag = strcmp(cmd, "backup") == 0 ? "--with-blobs" : "--force";
	int set = argc == 2 && strcmp(argv[1], flag) == 0;
	struct db *db;
	int rc;

	if (argc < 1 || argc > 1 + set || argv[0][0] == '-') {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "restore") == 0)
		return ctl_restore(cfg, argv[0], set);
	if (open_ready(cfg, &db) != 0)
		return 1;
	rc = ctl_backup(cfg, db, argv[0], set);
	db_close(db);
	return rc;
}

static int
cmd_migrate(const struct cb_config *cfg)
{
	struct db *db;
	char err[512];
	int from, to;

	if (open_db(cfg, DB_OPEN_EXISTING, &db) != 0)
		return 1;
	if (db_migrate(db, &from, &to, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		db_close(db);
		return 1;
	}
	if (from == to)
		printf("database %s is current (schema %d)\n", cfg->db_path, to);
	else
		printf("database %s migrated from schema %d to %d\n", cfg->db_path,
		    from, to);
	db_close(db);
	return 0;
}

static int
cmd_rotate(const struct cb_config *cfg)
{
	struct db *db;
	int rc;

	if (open_ready(cfg, &db) != 0)
		return 1;
	rc = print_new_admin_key(cfg, db, 1);
	db_close(db);
	return rc;
}

/* --- tenants and keys --- */

static const char *const scope_names[] = { "", "read", "write", "admin" };

/* Value of --name VALUE among args, or NULL. */
static const char *
opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static int
open_current(const struct cb_config *cfg, struct db **db, unsigned char master[CB_KEYLEN])
{
	char err[512];

	if (open_ready(cfg, db) != 0)
		return -1;
	if (masterkey_load(cfg->master_key_file, master, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		db_close(*db);
		*db = NULL;
		return -1;
	}
	return 0;
}

static int
print_tenant(void *arg, const struct tenant *t)
{
	char iso[32];

	(void)arg;
	fmt_iso8601_ms(iso, sizeof iso, t->created_at);
	printf("%s  %-24s quota %lld  used %lld  created %s\n", t->id, t->name,
	    (long long)t->quota_bytes, (long long)t->used_bytes, iso);
	return 0;
}

static int
print_key(void *arg, const struct apikey_info *k)
{
	char created[32], used[32], revoked[32];

	(void)arg;
	fmt_iso8601_ms(created, sizeof created, k->created_at);
	if (k->last_used_at)
		fmt_iso8601_ms(used, sizeof used, k->last_used_at);
	else
		strlcpy_cb(used, "never", sizeof used);
	if (k->revoked_at)
		fmt_iso8601_ms(revoked, sizeof revoked, k->revoked_at);
	printf("%s  %-16s %-5s %s%s  created %s  last used %s%s%s\n", k->id, k->name,
	    scope_names[k->scope < 1 || k->scope > 3 ? 0 : k->scope], k->hint,
	    k->is_primary ? " (primary)" : "", created, used,
	    k->revoked_at ? "  REVOKED " : "", k->revoked_at ? revoked : "");
	return 0;
}

static int
cmd_tenant(const struct cb_config *cfg, int argc, char **argv)
{
	unsigned char master[CB_KEYLEN];
	struct db *db;
	struct arena a;
	struct tenant t;
	int rc = 1;

	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (open_current(cfg, &db, master) != 0)
		return 1;
	arena_init(&a, 4096);
	if (strcmp(argv[0], "create") == 0 && argc >= 2) {
		const char *q = opt(argc, argv, "--quota"), *tl = opt(argc, argv, "--types");
		const char *types[8], *why = "";
		char key[APIKEY_MAX], *list = NULL;
		long long quota = -1;
		size_t n = 0;
		if (q != NULL && parse_size(q, 0, INT64_MAX, &quota) != 0) {
			fprintf(stderr, "cubbyctl: --quota: a number of bytes (k/m/g suffixes)\n");
			goto out;
		}
		if (tl != NULL) {
			list = arena_strdup(&a, tl);
			for (char *p = list; p && n < 8; ) {
				char *c = strchr(p, ',');
				if (c)
					*c++ = '\0';
				types[n++] = p;
				p = c;
			}
		}
		rc = tenant_create(db, &a, master, argv[1], quota, tl ? types : NULL, n,
		    &t, key, &why);
		if (rc != 0) {
			fprintf(stderr, "cubbyctl: %s\n", *why ? why : "cannot create the tenant");
			rc = 1;
			goto out;
		}
		printf("tenant %s (%s)\nAPI key (shown once, store it now): %s\n", t.id,
		    t.name, key);
		memset(key, 0, sizeof key);
	} else if (strcmp(argv[0], "list") == 0) {
		rc = tenant_each(db, &a, print_tenant, NULL) ? 1 : 0;
	} else if (strcmp(argv[0], "show") == 0 && argc >= 2) {
		if (tenant_find(db, &a, argv[1], &t) != 0) {
			fprintf(stderr, "cubbyctl: no tenant '%s'\n", argv[1]);
			goto out;
		}
		char secret[65];
		print_tenant(NULL, &t);
		webhook_secret(master, t.id, t.webhook_gen, secret);
		printf("allowed types %s\nwebhook secret %s\nkeys:\n", t.allowed_types, secret);
		rc = apikey_each(db, &a, t.id, print_key, NULL) ? 1 : 0;
	} else if (strcmp(argv[0], "update") == 0 && argc >= 2) {
		/* the admin API's PATCH /api/v1/admin/tenants/{id} */
		const char *q = opt(argc, argv, "--quota"), *nm = opt(argc, argv, "--name");
		const char *tl = opt(argc, argv, "--types"), *types[64], *why = "";
		long long quota = -1;
		size_t n = 0;
		if (tenant_find(db, &a, argv[1], &t) != 0) {
			fprintf(stderr, "cubbyctl: no tenant '%s'\n", argv[1]);
			goto out;
		}
		if (q != NULL && parse_size(q, 0, INT64_MAX, &quota) != 0) {
			fprintf(stderr, "cubbyctl: --quota: a number of bytes (k/m/g suffixes)\n");
			goto out;
		}
		if (tl != NULL)
			for (char *p = arena_strdup(&a, tl); p && n < 64; ) {
				char *c = strchr(p, ',');
				if (c)
					*c++ = '\0';
				types[n++] = p;
				p = c;
			}
		if (tenant_update(db, &a, t.id, nm, quota, tl ? types : NULL, n, &t, &why) != 0) {
			fprintf(stderr, "cubbyctl: %s\n", *why ? why : "cannot update the tenant");
			goto out;
		}
		print_tenant(NULL, &t);
		rc = 0;
	} else if (strcmp(argv[0], "rotate-webhook-secret") == 0 && argc >= 2) {
		char secret[65], iso[32];
		int64_t until;
		if (tenant_find(db, &a, argv[1], &t) != 0) {
			fprintf(stderr, "cubbyctl: no tenant '%s'\n", argv[1]);
			goto out;
		}
		if (webhook_secret_rotate(db, master, t.id, secret, &until) != 0) {
			fprintf(stderr, "cubbyctl: the webhook secret could not be rotated\n");
			goto out;
		}
		fmt_iso8601_ms(iso, sizeof iso, until);
		printf("webhook secret %s\n(the previous one also signs deliveries until %s)\n",
		    secret, iso);
		memset(secret, 0, sizeof secret);
		rc = 0;
	} else if (strcmp(argv[0], "delete") == 0 && argc >= 2) {
		/* everything goes: keys, workspaces, spaces, files and bytes */
		if (tenant_find(db, &a, argv[1], &t) != 0) {
			fprintf(stderr, "cubbyctl: no tenant '%s'\n", argv[1]);
			goto out;
		}
		if (tenant_delete(db, cfg, t.id) != 0) {
			fprintf(stderr, "cubbyctl: the tenant could not be deleted (see the log); "
			    "run it again\n");
			goto out;
		}
		printf("deleted tenant %s (%s) with its keys, files and bytes\n", t.id, t.name);
		rc = 0;
	} else {
		usage(stderr);
		rc = 2;
	}
out:
	arena_free(&a);
	db_close(db);
	memset(master, 0, sizeof master);
	return rc;
}

static int
cmd_key(const struct cb_config *cfg, int argc, char **argv)
{
	unsigned char master[CB_KEYLEN];
	struct db *db;
	struct arena a;
	struct tenant t;
	int rc = 1;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (open_current(cfg, &db, master) != 0)
		return 1;
	arena_init(&a, 4096);
	if (strcmp(argv[0], "revoke") == 0) {
		rc = apikey_revoke(db, NULL, argv[1]);
		if (rc == 0)
			printf("revoked %s\n", argv[1]);
		else
			fprintf(stderr, "cubbyctl: no key '%s'\n", argv[1]);
		rc = rc ? 1 : 0;
		goto out;
	}
	if (tenant_find(db, &a, argv[1], &t) != 0) {
		fprintf(stderr, "cubbyctl: no tenant '%s'\n", argv[1]);
		goto out;
	}
	if (strcmp(argv[0], "list") == 0) {
		rc = apikey_each(db, &a, t.id, print_key, NULL) ? 1 : 0;
	} else if (strcmp(argv[0], "create") == 0) {
		const char *name = opt(argc, argv, "--name"), *sc = opt(argc, argv, "--scope");
		const char *why = "";
		char key[APIKEY_MAX], id[24];
		int scope = 0;
		for (int i = 1; i <= 3; i++)
			if (sc && strcmp(sc, scope_names[i]) == 0)
				scope = i;
		rc = apikey_create(db, master, t.id, name ? name : "", scope, key, id, &why);
		if (rc != 0) {
			fprintf(stderr, "cubbyctl: %s\n", *why ? why : "cannot create the key");
			rc = 1;
			goto out;
		}
		printf("key %s (%s) for tenant %s\nAPI key (shown once, store it now): %s\n",
		    id, scope_names[scope], t.name, key);
		memset(key, 0, sizeof key);
	} else {
		usage(stderr);
		rc = 2;
	}
out:
	arena_free(&a);
	db_close(db);
	memset(master, 0, sizeof master);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cb_config cfg;
	const char *config_path = NULL, *cmd;
	char err[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "version") == 0) {
		printf("cubbyctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	log_init("cubbyctl", CB_LOG_WARN);
	if (config_load(&cfg, config_path, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: config: %s\n", err);
		return 1;
	}
	if (crypto_init() != 0) {
		fprintf(stderr, "cubbyctl: libgcrypt is too old\n");
		return 1;
	}
	if (strcmp(cmd, "init") == 0)
		rc = cmd_init(&cfg);
	else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&cfg);
	else if (strcmp(cmd, "rotate-admin-key") == 0)
		rc = cmd_rotate(&cfg);
	else if (strcmp(cmd, "tenant") == 0)
		rc = cmd_tenant(&cfg, argc - optind - 1, argv + optind + 1);
	else if (strcmp(cmd, "key") == 0)
		rc = cmd_key(&cfg, argc - optind - 1, argv + optind + 1);
	else if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "restore") == 0)
		rc = cmd_backup(&cfg, cmd, argc - optind - 1, argv + optind + 1);
	else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "gc") == 0 ||
	    strcmp(cmd, "stats") == 0 || strcmp(cmd, "blobs-to-s3") == 0)
		rc = cmd_maint(&cfg, cmd, argc - optind - 1, argv + optind + 1);
	else {
		fprintf(stderr, "cubbyctl: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}

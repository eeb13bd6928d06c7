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

#include "cubby/config.h"
#include "cubby/core.h"
#include "cubby/crypto.h"
#include "cubby/db.h"
#include "cubby/log.h"

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
	    "  version            print the version\n");
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp)
		return -1;
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
	char err[512];
	int rc;

	if (db_open_current(cfg, &db, err, sizeof err) != 0) {
		fprintf(stderr, "cubbyctl: %s\n", err);
		return 1;
	}
	rc = print_new_admin_key(cfg, db, 1);
	db_close(db);
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
	else {
		fprintf(stderr, "cubbyctl: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}

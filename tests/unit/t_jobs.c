/* t_jobs.c - job claims: two jobs workers (two pools on one database) never
 * both get a job, and a job whose worker died comes back after its lease. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubby/config.h"
#include "cubby/db.h"
#include "tap.h"

int
main(void)
{
	char dir[] = "/tmp/cubby-t-jobs-XXXXXX", conf[256], err[512], cmd[300];
	struct cb_config cfg;
	struct db *a = NULL, *b = NULL;
	int from, to;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(conf, sizeof conf, "%s/cubby.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return 1;
	fprintf(f, "data_dir = %s\n", dir);
	fclose(f);
	is_int(config_load(&cfg, conf, err, sizeof err), 0, "config loads");
	is_int(db_open(&cfg, DB_OPEN_CREATE, &a, err, sizeof err), 0, "first connection");
	is_int(db_migrate(a, &from, &to, err, sizeof err), 0, "schema made");
	is_int(db_open(&cfg, DB_OPEN_EXISTING, &b, err, sizeof err), 0, "second connection");
	is_int(db_exec(a, "INSERT INTO jobs (id, kind, payload, run_at, created_at)"
	    " VALUES (7, 'webhook', '{}', 0, 0)"), 0, "a queued job");

	is_int(db_job_claim(a, 7, 60000), 1, "the first worker gets it");
	is_int(db_job_claim(b, 7, 60000), 0, "the second does not");
	is_int(db_job_claim(a, 7, 60000), 0, "nor the first again");
	is_int(db_jobs_requeue_expired(b), 0, "a live lease is not requeued");

	/* A worker that died holding it: the lease has run out. */
	is_int(db_exec(a, "UPDATE jobs SET run_at = 1 WHERE id = 7"), 0, "lease ends");
	is_int(db_jobs_requeue_expired(b), 1, "an expired lease is requeued");
	is_int(db_job_claim(b, 7, 60000), 1, "and can be claimed again");
	is_int(db_job_claim(a, 8, 60000), 0, "a missing job is not claimed");

	db_close(a);
	db_close(b);
	config_free(&cfg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return done_testing();
}

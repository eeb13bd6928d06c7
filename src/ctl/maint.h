/* maint.h - cubbyctl's maintenance commands. Each prints what it found
 * and returns the exit code: 0, or 1 when something is wrong. */
#ifndef CUBBY_CTL_MAINT_H
#define CUBBY_CTL_MAINT_H

struct cb_config;
struct db;

/* Integrity check, live objects without blobs, blob files without rows,
 * totals that do not add up. Reads only. */
int ctl_check(const struct cb_config *cfg, struct db *db);
/* Remove blob, upload and temp files no row names (older than an hour)
 * and expired key-value entries; with dry_run, only say so. */
int ctl_gc(const struct cb_config *cfg, struct db *db, int dry_run);
/* Counts and sizes. */
int ctl_stats(const struct cb_config *cfg, struct db *db);
/* A snapshot of the database, the master key and a manifest of blobs
 * (and the blobs, with with_blobs) into the new directory dir. */
int ctl_backup(const struct cb_config *cfg, struct db *db, const char *dir, int with_blobs);
/* Put a backup's database and key into cfg's data directory (replacing
 * them only with force) and check every blob of its manifest. */
int ctl_restore(const struct cb_config *cfg, const char *dir, int force);

/* Copy every blob of data_dir/blobs a row names into the configured S3
 * bucket (s3_* settings, under s3_prefix), each PUT carrying its SHA-256
 * so the store refuses other bytes; ones already there with their size
 * are skipped. With dry_run, only say what would be copied. */
int ctl_blobs_to_s3(const struct cb_config *cfg, struct db *db, int dry_run);

#endif

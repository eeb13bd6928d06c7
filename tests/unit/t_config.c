/* t_config.c - the config file, defaults and environment overrides. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "cubby/config.h"
#include "tap.h"

static char path[] = "/tmp/cubby-t-config-XXXXXX";

static void
write_conf(const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int
main(void)
{
	struct cb_config c;
	char err[256];
	int fd = mkstemp(path);

	close(fd);
	unsetenv("CUBBY_CONFIG");
	unsetenv("ADMIN_API_KEY");
	unsetenv("CUBBY_ADMIN_API_KEY");
	unsetenv("CUBBY_WORKERS");

	write_conf("# comment\n\nworkers = 3\ndata_dir = /srv/cubby\n"
	    "listen = \"unix:/run/c.sock\"\nmax_body = 2m\naccess_log = off\n"
	    "base_path = /cubby/\n");
	is_int(config_load(&c, path, err, sizeof err), 0, "a valid file loads");
	is_int(c.workers, 3, "workers");
	is_str(c.data_dir, "/srv/cubby", "data_dir");
	is_str(c.listen, "unix:/run/c.sock", "quotes are stripped");
	is_int(c.max_body, 2 * 1024 * 1024, "size suffix");
	is_int(c.access_log, 0, "bool off");
	is_str(c.db_path, "/srv/cubby/cubby.db", "db_path derives from data_dir");
	is_str(c.master_key_file, "/srv/cubby/master.key", "master key derives too");
	is_str(c.base_path, "/cubby", "trailing slash of base_path dropped");
	is_str(c.synchronous, "normal", "default synchronous");
	is_int(c.busy_timeout_ms, 5000, "default busy timeout");
	config_free(&c);

	setenv("CUBBY_WORKERS", "7", 1);
	setenv("ADMIN_API_KEY", "from-doc-var", 1);
	is_int(config_load(&c, path, err, sizeof err), 0, "loads with env");
	is_int(c.workers, 7, "CUBBY_WORKERS overrides the file");
	is_str(c.admin_api_key, "from-doc-var", "ADMIN_API_KEY works as the file API documents");
	config_free(&c);
	setenv("CUBBY_ADMIN_API_KEY", "ours", 1);
	config_load(&c, path, err, sizeof err);
	is_str(c.admin_api_key, "ours", "CUBBY_ADMIN_API_KEY wins over ADMIN_API_KEY");
	config_free(&c);
	setenv("CUBBY_WORKERS", "lots", 1);
	is_int(config_load(&c, path, err, sizeof err), -1, "a bad env value is an error");
	config_free(&c);
	unsetenv("CUBBY_WORKERS");

	write_conf("workers = 2\nbogus = 1\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "unknown key is an error");
	ok(strstr(err, ":2:") && strstr(err, "bogus"), "error names the line and key: %s", err);
	config_free(&c);
	write_conf("workers = -1\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "out of range is an error");
	config_free(&c);
	write_conf("workers 2\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "a line without = is an error");
	config_free(&c);
	write_conf("synchronous = sometimes\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "bad synchronous value");
	config_free(&c);
	write_conf("listen_mode = 0999\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "listen_mode must be octal");
	config_free(&c);
	write_conf("public_url = https://storage.example.com/cubby/\n");
	is_int(config_load(&c, path, err, sizeof err), 0, "public_url loads");
	is_str(c.public_url, "https://storage.example.com/cubby", "its trailing slash is dropped");
	config_free(&c);
	write_conf("public_url = storage.example.com\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "public_url needs a scheme");
	config_free(&c);
	write_conf("public_url = https://a b\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "public_url without spaces");
	config_free(&c);
	write_conf("share_path = /share/\n");
	is_int(config_load(&c, path, err, sizeof err), 0, "share_path loads");
	is_str(c.share_path, "/share", "its trailing slash is dropped");
	config_free(&c);
	write_conf("share_path = share\n");
	is_int(config_load(&c, path, err, sizeof err), -1, "share_path is a path");
	config_free(&c);
	is_int(config_load(&c, "/nonexistent/cubby.conf", err, sizeof err), -1,
	    "a missing explicit file is an error");
	config_free(&c);
	unlink(path);
	return done_testing();
}

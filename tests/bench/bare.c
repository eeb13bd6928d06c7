/* bare.c - the baseline for tests/bench/health.sh: the smallest useful
 * libfcgi responder, pre-forked to the same number of processes as Cubby. */
#include <stdlib.h>
#include <unistd.h>
#include <fcgiapp.h>

int
main(int argc, char **argv)
{
	int fd, procs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1;
	FCGX_Request r;

	FCGX_Init();
	if (argc < 2 || (fd = FCGX_OpenSocket(argv[1], 1024)) < 0)
		return 1;
	for (int i = 1; i < procs && fork() > 0; i++)
		;
	FCGX_InitRequest(&r, fd, 0);
	while (FCGX_Accept_r(&r) >= 0)
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}");
	return 0;
}

/* bench/sink.c — the local webhook receiver of the dispatcher benchmarks
 * (bench/dispatch.sh). libevent's evhttp on one loop: every request other
 * than the two below is answered 200 with an empty body and counted.
 *
 *   GET /_count   "<requests> <first> <last>\n": requests counted since the
 *                 start (or the last reset), and the wall-clock times
 *                 (Unix seconds, microsecond precision) of the first and
 *                 the last of them; not counted itself
 *   GET /_reset   sets the count to zero
 *
 * Usage: sink PORT   (listens on 127.0.0.1; PORT 0 picks a free one).
 * Prints "port N" on stdout once it listens. SIGTERM/SIGINT: exit 0.
 *
 * Build: cc -O2 -o build/bench-sink bench/sink.c $(pkg-config --cflags --libs libevent) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

static unsigned long long count;
static double first, last;

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out;

	(void)arg;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && uri != NULL) {
		if (strcmp(uri, "/_count") == 0) {
			if ((out = evbuffer_new()) != NULL) {
				evbuffer_add_printf(out, "%llu %.6f %.6f\n", count, first, last);
				evhttp_send_reply(req, 200, "OK", out);
				evbuffer_free(out);
				return;
			}
		} else if (strcmp(uri, "/_reset") == 0) {
			count = 0;
			first = last = 0;
			evhttp_send_reply(req, 200, "OK", NULL);
			return;
		}
	}
	last = now();
	if (count++ == 0)
		first = last;
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *term, *intr;
	struct sockaddr_storage ss;
	ev_socklen_t len = sizeof(ss);
	int port;

	if (argc != 2 || (port = atoi(argv[1])) < 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL)
		return 1;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
	evhttp_set_timeout(http, 120);
	evhttp_set_gencb(http, handle, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port)) == NULL) {
		perror("sink: bind");
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("port %d\n", port);
	fflush(stdout);
	term = evsignal_new(base, SIGTERM, on_signal, base);
	intr = evsignal_new(base, SIGINT, on_signal, base);
	event_add(term, NULL);
	event_add(intr, NULL);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}

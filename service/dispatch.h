/* dispatch — the dispatcher threads: fan-out of published events into
 * deliveries, claiming of due deliveries under leases, PUSH attempts, and
 * the janitor (expired leases, retention). Each thread runs its own event
 * loop with its own database pool and httpc; thread 0 also fans out,
 * keeps the configuration cache (match.c) and runs the janitor.
 *
 * The path of an event: committed in webhookd.event (publish.c or the
 * outbox function) → NOTIFY 'event' (or the poll) → fan-out claims a batch
 * of events under a lease, matches them in memory and stores one delivery
 * per destination, marking the events fanned out, in one transaction →
 * claim takes due deliveries (FOR UPDATE SKIP LOCKED, at most maxInFlight
 * per destination) as IN_FLIGHT with a lease → deliver.c attempts →
 * completions are stored in batches (attempt log, next state, destination
 * health, deactivation) in one transaction. A lease that expires (an
 * instance died) puts the delivery back to PENDING; nothing is lost and
 * a delivery may be attempted twice. */
#ifndef WEBHOOKD_DISPATCH_H
#define WEBHOOKD_DISPATCH_H

struct server;
struct dispatch;

/* Start cfg->dispatcher_threads threads (nothing when cfg->dispatcher is
 * false: returns a valid empty dispatcher). NULL on failure. */
struct dispatch *dispatch_start(struct server *srv);
/* Ask the threads to finish: stop claiming, wait for running attempts up
 * to shutdown_timeout_ms, store their outcomes, release what is still
 * leased. Callable from any thread (e.g. the signal handler's loop). */
void dispatch_drain(struct dispatch *d);
/* True once every thread has finished. */
int  dispatch_done(const struct dispatch *d);
/* Join and free; after dispatch_done. */
void dispatch_free(struct dispatch *d);
/* Every dispatcher LISTENs here: 'event' (events committed), 'delivery'
 * (deliveries due), 'config' (configuration changed). */
#define DISPATCH_CHANNEL "webhookd_dispatch"
/* Wake the threads from any thread: fanout (thread 0) after events were
 * committed, else claims after deliveries became due. */
void dispatch_wake(struct dispatch *d, int fanout);

#endif

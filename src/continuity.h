/*-------------------------------------------------------------------------
 * continuity.h
 *	  The proof, on each connect, that the source's history still holds
 *	  laredo's position.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_CONTINUITY_H
#define LAREDO_CONTINUITY_H

#include "replication/walreceiver.h"

#include "state.h"

extern XLogRecPtr laredo_continuity_check(WalReceiverConn *conn, LaredoSourceConfig *source,
										  ReplOriginId origin, XLogRecPtr startpos);
extern char *laredo_continuity_appname(const char *source_id);

/*
 * Set just before an ERROR that says the slot no longer carries laredo's
 * position (lost, invalidated, ahead, a forked or rewound source): with
 * on_slot_lost = 'rebaseline' the worker takes a new baseline instead.
 */
extern const char *laredo_slot_lost_cause;

#endif

/*-------------------------------------------------------------------------
 * failover.h
 *	  What a failover of a source would find (sources on 17 or later).
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_FAILOVER_H
#define LAREDO_FAILOVER_H

#include "libpq-fe.h"

#include "state.h"

extern char *laredo_failover_readiness(LaredoSourceConfig *source, PGconn *primary, Oid owner);

#endif

/*-------------------------------------------------------------------------
 * publication.h
 *	  The source's publications.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_PUBLICATION_H
#define LAREDO_PUBLICATION_H

#include "replication/walreceiver.h"
#include "state.h"

extern List *laredo_publication_names(LaredoSourceConfig *source);
extern void laredo_publication_sync(WalReceiverConn *conn, LaredoSourceConfig *source,
									bool may_create);

#endif

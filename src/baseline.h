/*-------------------------------------------------------------------------
 * baseline.h
 *	  Full copy of a source's tables inside the slot's exported snapshot.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_BASELINE_H
#define LAREDO_BASELINE_H

#include "access/xlogdefs.h"
#include "state.h"

extern void laredo_baseline_run(LaredoSourceConfig *source, const char *snapshot, XLogRecPtr copy_lsn);
extern XLogRecPtr laredo_baseline_sync(LaredoSourceConfig *source);

#endif

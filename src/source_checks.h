/*-------------------------------------------------------------------------
 * source_checks.h
 *	  The source worker's periodic look at the source's catalog.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_SOURCE_CHECKS_H
#define LAREDO_SOURCE_CHECKS_H

#include "state.h"

/* Columns of the checks' answer. */
#define LAREDO_CHECKS_COLUMNS	5

extern char *laredo_checks_query(LaredoSourceConfig *source);
extern void laredo_checks_apply(LaredoSourceConfig *source, List *rows);

#endif

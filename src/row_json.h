/*-------------------------------------------------------------------------
 * row_json.h
 *	  Rows from the source as jsonb.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_ROW_JSON_H
#define LAREDO_ROW_JSON_H

#include "replication/logicalproto.h"

extern Datum laredo_row_jsonb(LogicalRepRelation *rel, LogicalRepTupleData *tup, bool only_keys,
							  bool *isnull);

#endif

/*-------------------------------------------------------------------------
 * target_exec.h
 *	  Executor state for a target's writes in one local transaction.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_TARGET_EXEC_H
#define LAREDO_TARGET_EXEC_H

#include "nodes/execnodes.h"
#include "utils/relcache.h"

typedef struct LaredoTargetExec
{
	Relation	rel;			/* NULL while closed */
	EState	   *estate;
	ResultRelInfo *rri;
} LaredoTargetExec;

extern void laredo_target_exec_open(LaredoTargetExec *x, Oid relid);
extern void laredo_target_exec_next_command(LaredoTargetExec *x);
extern void laredo_target_exec_close(LaredoTargetExec *x);

#endif

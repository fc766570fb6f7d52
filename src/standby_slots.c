/*-------------------------------------------------------------------------
 * standby_slots.c
 *	  Owns laredo.synchronized_standby_slots: the physical replication slots
 *	  of this (the consumer's) server whose standbys must have flushed a
 *	  local commit before the source position it carries is acknowledged to
 *	  the source.  It means on the consumer's side what PostgreSQL 17's
 *	  synchronized_standby_slots means on a source's: promoting any of those
 *	  standbys finds the source's slot at or behind its own position, however
 *	  far it lagged, so it resumes with nothing lost and no new baseline.
 *
 *	  A physical slot's restart_lsn is its standby's flush position (the
 *	  walsender moves it on each reply) and persists while the standby is
 *	  down, as StandbySlotsHaveCaughtup reads it.  A slot that is missing,
 *	  logical or invalidated holds acknowledgements back, with a WARNING, as
 *	  the built-in setting does: a standby that cannot be caught up with must
 *	  not be skipped silently.  Held back, the source keeps its WAL for
 *	  laredo's slot; health() reports it.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "standby_slots.h"

char	   *laredo_synchronized_standby_slots = NULL;

/* the value last parsed, and its slot names (TopMemoryContext) */
static char *parsed_value = NULL;
static List *parsed_names = NIL;
/* what was last warned about, so that each state is said once */
static char *warned = NULL;

bool
laredo_standby_slots_check(char **newval, void **extra, GucSource source)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	raw = pstrdup(*newval);
	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);

		if (strlen(name) >= NAMEDATALEN || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
		{
			GUC_check_errdetail("\"%s\" is not a replication slot name: slot names contain lower-case letters, digits and underscores.",
								name);
			return false;
		}
	}
	return true;
}

static List *
standby_slot_names(void)
{
	const char *value = laredo_synchronized_standby_slots ? laredo_synchronized_standby_slots : "";

	if (parsed_value == NULL || strcmp(parsed_value, value) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		char	   *raw = pstrdup(value);
		List	   *names = NIL;

		if (raw[0] != '\0' && !SplitIdentifierString(raw, ',', &names))
			names = NIL;		/* the check hook refused it already */
		if (parsed_value)
			pfree(parsed_value);
		list_free(parsed_names);
		parsed_value = pstrdup(value);
		parsed_names = names;
		MemoryContextSwitchTo(old);
	}
	return parsed_names;
}

/* Whether laredo.synchronized_standby_slots names any slot. */
bool
laredo_standby_slots_enabled(void)
{
	return standby_slot_names() != NIL;
}

static void
standby_slots_warn(const char *state, const char *name, const char *problem)
{
	if (warned != NULL && strcmp(warned, state) == 0)
		return;
	if (warned)
		pfree(warned);
	warned = MemoryContextStrdup(TopMemoryContext, state);
	if (problem == NULL)
		return;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("replication slot \"%s\" named in laredo.synchronized_standby_slots %s", name, problem),
			 errdetail("laredo acknowledges nothing more to its sources until that standby has the changes applied here; the sources keep their WAL meanwhile."),
			 errhint("Create the physical slot for the standby, or take it out of laredo.synchronized_standby_slots and reload.")));
}

/*
 * The local WAL position every standby named has flushed: a commit ending
 * at or before it may be acknowledged.  PG_UINT64_MAX (no limit) when no
 * slot is named; InvalidXLogRecPtr when a named slot cannot say.
 */
XLogRecPtr
laredo_standby_slots_confirmed(void)
{
	List	   *names = standby_slot_names();
	XLogRecPtr	min = PG_UINT64_MAX;
	ListCell   *lc;

	if (names == NIL)
		return PG_UINT64_MAX;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		ReplicationSlot *found = NULL;
		XLogRecPtr	restart = InvalidXLogRecPtr;
		bool		logical = false;
		bool		invalidated = false;

		for (int i = 0; i < max_replication_slots; i++)
		{
			ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];

			if (s->in_use && strcmp(NameStr(s->data.name), name) == 0)
			{
				found = s;
				SpinLockAcquire(&s->mutex);
				restart = s->data.restart_lsn;
				logical = SlotIsLogical(s);
				invalidated = laredo_slot_invalidated(s);
				SpinLockRelease(&s->mutex);
				break;
			}
		}
		if (found == NULL || logical || invalidated)
		{
			LWLockRelease(ReplicationSlotControlLock);
			standby_slots_warn(psprintf("%s:%s", name, found == NULL ? "missing" : logical ? "logical" : "invalidated"),
							   name, found == NULL ? "does not exist" :
							   logical ? "is a logical slot, not a standby's" : "has been invalidated");
			return InvalidXLogRecPtr;
		}
		if (restart < min)
			min = restart;
	}
	LWLockRelease(ReplicationSlotControlLock);
	standby_slots_warn("", NULL, NULL);
	return min;
}

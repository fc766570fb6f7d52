/*-------------------------------------------------------------------------
 * target_table_merge.c
 *	  A mirror's updates held back until the local commit, merged per key:
 *	  in a batch of remote transactions a hot row updated in many of them is
 *	  written once, with its latest image.  Which mirrors may do so is
 *	  table_may_defer's answer in target_table.c.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "target_table.h"

/* One held-back update: the key's bytes and the row image to write. */
typedef struct PendingUpdate
{
	char	   *key;
	int			keylen;
	LogicalRepTupleData tup;
} PendingUpdate;

typedef struct PendingChain
{
	uint64		hash;
	List	   *updates;		/* of PendingUpdate * sharing the hash */
} PendingChain;

/* Held-back updates per pipeline (and the memory they take) before they are written anyway. */
#define PENDING_MAX_ROWS 2048
#define PENDING_MAX_BYTES (4 * 1024 * 1024)

/*
 * The bytes of an update's key (its replica identity columns, as text or
 * binary the stream sent them: one form per column in a stream), or false
 * when a key value is not there to compare (left out as unchanged TOAST).
 */
static bool
pending_key(TableTarget *t, LogicalRepTupleData *tup, StringInfo key)
{
	int			i = -1;

	while ((i = bms_next_member(t->remoterel->attkeys, i)) >= 0)
	{
		int32		len;

		if (i >= tup->ncols || (tup->colstatus[i] != LOGICALREP_COLUMN_TEXT &&
								tup->colstatus[i] != LOGICALREP_COLUMN_BINARY))
			return false;
		/* a value's form first: its text and its binary bytes never compare equal */
		appendStringInfoChar(key, tup->colstatus[i]);
		len = tup->colvalues[i].len;
		appendBinaryStringInfo(key, (char *) &len, sizeof(len));
		appendBinaryStringInfo(key, tup->colvalues[i].data, len);
	}
	return true;
}

/* Writes the held-back updates, in the order their keys first came. */
void
laredo_table_flush_merged(LaredoPipeline *p)
{
	TableTarget *t = p->private;
	ListCell   *lc;

	if (t->pending_order == NIL)
		return;
	foreach(lc, t->pending_order)
	{
		PendingUpdate *u = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		laredo_table_update_row(p, NULL, &u->tup);
	}
	/* the change that made the flush may be about one of these rows */
	CommandCounterIncrement();
	/* kept for the next batch: its first block is not given back to malloc */
	MemoryContextReset(t->pendcxt);
	t->pending = NULL;
	t->pending_order = NIL;
}

/* A column's latest value, copied into the held-back image at its own size. */
static void
pending_set_value(StringInfo dst, StringInfo src)
{
	if (dst->data == NULL)
	{
		dst->maxlen = src->len + 1;
		dst->data = palloc(dst->maxlen);
	}
	else if (src->len + 1 > dst->maxlen)
	{
		dst->maxlen = src->len + 1;
		dst->data = repalloc(dst->data, dst->maxlen);
	}
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
}

/*
 * An update whose key did not change is held back until the local commit
 * (or until the pipeline's next insert, delete or truncate), merged with
 * earlier updates of the same key: in a batch of remote transactions, a
 * hot row updated in many of them is written once, with its latest image,
 * instead of growing a chain of versions that nothing can prune before the
 * commit.  The outcome is the same table: the updates of different keys
 * commute (no other unique index, no trigger), the latest image of a key
 * carries every column but those the source left out as unchanged TOAST,
 * which come from the earlier image if it had them, else from the row.
 */
void
laredo_table_update(LaredoPipeline *p, LogicalRepTupleData *oldtup, LogicalRepTupleData *newtup)
{
	TableTarget *t = p->private;
	StringInfoData key;
	MemoryContext old;
	uint64		hash;
	bool		found;
	PendingChain *chain;
	PendingUpdate *u = NULL;
	ListCell   *lc;

	laredo_table_open_xact(p);
	/* the key is built where the message is decoded; only a new entry keeps a copy */
	initStringInfo(&key);
	if (oldtup != NULL || !t->may_defer || !pending_key(t, newtup, &key))
	{
		laredo_table_flush_merged(p);
		laredo_table_update_row(p, oldtup, newtup);
		return;
	}
	/*
	 * The context lives as long as the pipeline and is reset by each flush
	 * (a worker leaves after an error, so no aborted transaction leaves
	 * updates in it).
	 */
	if (t->pendcxt == NULL)
		t->pendcxt = AllocSetContextCreate(GetMemoryChunkContext(t), "laredo held-back updates",
										   ALLOCSET_DEFAULT_SIZES);
	if (t->pending == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PendingChain);
		ctl.hcxt = t->pendcxt;
		t->pending = hash_create("laredo held-back updates", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	old = MemoryContextSwitchTo(t->pendcxt);
	hash = hash_bytes_extended((unsigned char *) key.data, key.len, 0);
	chain = hash_search(t->pending, &hash, HASH_ENTER, &found);
	if (!found)
		chain->updates = NIL;
	foreach(lc, chain->updates)
	{
		PendingUpdate *candidate = lfirst(lc);

		if (candidate->keylen == key.len && memcmp(candidate->key, key.data, key.len) == 0)
			u = candidate;
	}
	if (u == NULL)
	{
		/*
		 * One allocation for the entry, its key and its columns; each value
		 * at its own size when it comes (a StringInfo's 1 kB per column made
		 * a batch of pgbench updates 4 kB a row, 8 MB given back to malloc
		 * and faulted in again by every batch)
		 */
		Size		colsoff = MAXALIGN(sizeof(PendingUpdate));
		Size		keyoff = colsoff + MAXALIGN(sizeof(StringInfoData) * newtup->ncols);
		char	   *mem = palloc0(keyoff + key.len + newtup->ncols);

		u = (PendingUpdate *) mem;
		u->tup.ncols = newtup->ncols;
		u->tup.colvalues = (StringInfoData *) (mem + colsoff);
		u->key = mem + keyoff;
		u->keylen = key.len;
		memcpy(u->key, key.data, key.len);
		u->tup.colstatus = u->key + key.len;
		memset(u->tup.colstatus, LOGICALREP_COLUMN_UNCHANGED, newtup->ncols);
		chain->updates = lappend(chain->updates, u);
		t->pending_order = lappend(t->pending_order, u);
	}
	for (int i = 0; i < newtup->ncols && i < u->tup.ncols; i++)
	{
		if (newtup->colstatus[i] == LOGICALREP_COLUMN_UNCHANGED)
			continue;
		u->tup.colstatus[i] = newtup->colstatus[i];
		pending_set_value(&u->tup.colvalues[i], &newtup->colvalues[i]);
	}
	MemoryContextSwitchTo(old);
	if (list_length(t->pending_order) >= PENDING_MAX_ROWS ||
		MemoryContextMemAllocated(t->pendcxt, false) >= PENDING_MAX_BYTES)
		laredo_table_flush_merged(p);
}


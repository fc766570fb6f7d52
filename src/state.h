/*-------------------------------------------------------------------------
 * state.h
 *	  laredo's durable state in the laredo schema: source, table and
 *	  pipeline configuration, durable errors, counters and the origin name.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_STATE_H
#define LAREDO_STATE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef struct LaredoTableConfig
{
	char	   *schema_name;
	char	   *table_name;
	char	   *where_clause;	/* NULL: no row filter */
	List	   *columns;		/* of char *; NIL: every column */
	bool		insert_only;
	char	   *partitions;		/* its leaf partitions at the copy, or NULL (0.5.0) */
	Oid			source_oid;		/* the source table's OID at the copy, or InvalidOid (0.5.0) */
} LaredoTableConfig;

typedef struct LaredoPipelineConfig
{
	char	   *pipeline_id;
	char	   *source_schema;
	char	   *source_table;
	char	   *target_kind;
	char	   *target_schema;
	char	   *target_table;
	char	   *options;		/* jsonb, as text */
	Oid			owner;
	bool		baselined;
	XLogRecPtr	baseline_lsn;	/* changes committed before it are in the copy */
	bool		chunked;		/* copied in key ranges while the stream goes on (chunk.c) */
} LaredoPipelineConfig;

typedef struct LaredoSourceConfig
{
	char	   *source_id;
	char	   *connection;
	char	   *slot_mode;
	char	   *slot_name;
	char	   *publication;
	char	   *publish;
	bool		create_publication;
	bool		publish_via_partition_root;
	char	   *origin;			/* "any" or "none" (0.3.0) */
	char	   *home_system_identifier;	/* where it was created (0.3.0; else NULL) */
	char	   *home_database;	/* its name when it was made, for messages */
	Oid			home_database_oid;	/* the check: a rename keeps it */
	bool		has_saved_lsn;	/* save_positions() stopped it (0.3.0) */
	bool		failover;		/* a failover slot, on a source on 17 or later (0.4.0) */
	char	   *on_slot_lost;	/* "error" or "rebaseline" (0.4.0) */
	int64		sequence_sync_ms;	/* sequence_sync_interval; 0: off (0.5.0) */
	int64		schema_check_ms;	/* the shortest check_interval of its schemas; 0: none (0.5.0) */
	bool		enabled;
	bool		slot_pending;
	int			reconnect_max_attempts;
	Oid			owner;
	List	   *tables;			/* of LaredoTableConfig */
	List	   *whole_schemas;	/* of char *: schemas its publication holds whole (0.5.0) */
	List	   *pipelines;		/* of LaredoPipelineConfig */
} LaredoSourceConfig;

/* Counters of one pipeline since they were last written. */
typedef struct LaredoPipelineCounters
{
	int64		baseline_rows;
	int64		inserts;
	int64		updates;
	int64		deletes;
	int64		truncates;
	int64		transactions;	/* remote transactions that changed the target */
	int64		bytes;			/* bytes of column data applied */
	int64		update_missing; /* updates whose row the target lacked: skipped */
	int64		delete_missing; /* deletes whose row the target lacked: skipped */
	TimestampTz baseline_started;	/* while a copy runs, else 0 */
} LaredoPipelineCounters;

/* laredo's catalog versions (laredo_catalog_version) */
#define LAREDO_CATALOG_0_1_0	100
#define LAREDO_CATALOG_0_2_0	200
#define LAREDO_CATALOG_0_3_0	300
#define LAREDO_CATALOG_0_4_0	400
#define LAREDO_CATALOG_0_5_0	500
#define LAREDO_CATALOG_0_6_0	600
#define LAREDO_CATALOG_0_7_0	700
#define LAREDO_CATALOG_0_8_0	800
#define LAREDO_CATALOG_0_9_0	900
#define LAREDO_CATALOG_0_10_0	1000
#define LAREDO_CATALOG_0_11_0	1100
extern int	laredo_catalog_version(void);

extern char *laredo_origin_name(const char *source_id);
extern LaredoSourceConfig *laredo_source_config_load(const char *source_id, bool missing_is_error);
extern int64 laredo_source_pipelines_pending(const char *source_id);
extern void laredo_source_sync_sequences(const char *source_id);
extern void laredo_source_check_schemas(const char *source_id);
extern void laredo_source_table_set_partitions(const char *source_id, LaredoTableConfig *t,
											   const char *leaves);
extern void laredo_source_table_set_oid(const char *source_id, LaredoTableConfig *t, Oid oid);
extern void laredo_source_table_replaced(const char *source_id, LaredoTableConfig *t, Oid oid);
extern void laredo_source_partitions_changed(const char *source_id, LaredoTableConfig *t,
											 const char *leaves);
extern void laredo_source_set_error(const char *source_id, const char *message, const char *hint);
extern void laredo_pipeline_set_error(const char *pipeline_id, const char *message);
extern void laredo_pipeline_copy_again(LaredoPipelineConfig *p, const char *source_id);
extern void laredo_source_set_slot_pending(const char *source_id, bool pending);
/* What laredo recorded of the source server at its last connect (0.4.0). */
typedef struct LaredoSourceHistory
{
	char	   *system_identifier;
	TimeLineID	timeline;		/* the source's timeline then */
	char	   *history;		/* "tli switchpoint" lines of its earlier timelines */
	XLogRecPtr	last_change;	/* see laredo.source_history; invalid: the position itself */
} LaredoSourceHistory;

extern LaredoSourceHistory *laredo_source_history_load(const char *source_id);
extern void laredo_source_history_record(const char *source_id, const char *system_identifier,
										 TimeLineID timeline, const char *history, bool new_position);
extern void laredo_source_set_last_change(const char *source_id, XLogRecPtr lsn);
extern void laredo_source_record_rebaseline(const char *source_id, const char *cause,
											const char *old_slot, const char *new_slot);
extern void laredo_source_set_failover_state(const char *source_id, const char *column,
											 const char *value);
extern void laredo_source_record_unmapped(const char *source_id, const char *relation, int64 changes);
extern void laredo_pipeline_record(const char *pipeline_id, const LaredoPipelineCounters *counters,
								   XLogRecPtr last_lsn, bool baseline_done);

#endif

/*-------------------------------------------------------------------------
 * bpchar_input.c
 *	  character(n) values read without counting their characters when they
 *	  are plain ASCII.
 *
 * The core input and receive functions of bpchar count the characters of
 * every value (pg_mbstrlen_with_len, one call through the encoding table per
 * byte) to pad or clip it to n; that was 12 % of a baseline of pgbench's
 * accounts (filler is char(84)) and 4 % of applying its changes.  A value
 * that is ASCII has as many characters as bytes, which a word-at-a-time
 * test shows; such a value that fits is padded here, and every other value
 * (multibyte, too long, an unconstrained bpchar) goes to the core function,
 * so the result and the errors are the core's in every case.
 *
 * In binary COPY and binary replication the receive function first copies
 * the value out of the message and checks its encoding (pq_getmsgtext); a
 * value whose bytes are all ASCII and not NUL is what that would return in
 * every encoding, so it is padded straight from the message.
 *-------------------------------------------------------------------------
 */
#include "laredo.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/fmgroids.h"

#include "bpchar_input.h"

/* true when every byte is below 0x80 */
static bool
bytes_are_ascii(const char *s, size_t len)
{
	const char *end = s + len;
	uint64		high = 0;

	for (; s + sizeof(uint64) <= end; s += sizeof(uint64))
	{
		uint64		chunk;

		memcpy(&chunk, s, sizeof(uint64));
		high |= chunk;
	}
	for (; s < end; s++)
		high |= (unsigned char) *s;
	return (high & UINT64CONST(0x8080808080808080)) == 0;
}

/*
 * true when every byte is below 0x80 and none is NUL: bytes that every
 * encoding conversion and check (pg_any_to_server) leaves as they are
 */
static bool
bytes_are_plain_ascii(const char *s, size_t len)
{
	const char *end = s + len;
	uint64		high = 0;
	uint64		zero = 0;

	for (; s + sizeof(uint64) <= end; s += sizeof(uint64))
	{
		uint64		chunk;

		memcpy(&chunk, s, sizeof(uint64));
		high |= chunk;
		/* a byte of the chunk is zero */
		zero |= (chunk - UINT64CONST(0x0101010101010101)) & ~chunk;
	}
	for (; s < end; s++)
	{
		high |= (unsigned char) *s;
		if (*s == '\0')
			return false;
	}
	return ((high | zero) & UINT64CONST(0x8080808080808080)) == 0;
}

/* The value padded to the column's length, or NULL when it is longer. */
static BpChar *
bpchar_padded(const char *s, size_t len, int32 typmod)
{
	size_t		maxlen;
	BpChar	   *result;

	if (typmod < (int32) VARHDRSZ)
		return NULL;
	maxlen = typmod - VARHDRSZ;
	if (len > maxlen)
		return NULL;
	result = palloc(maxlen + VARHDRSZ);
	SET_VARSIZE(result, maxlen + VARHDRSZ);
	memcpy(VARDATA(result), s, len);
	if (maxlen > len)
		memset(VARDATA(result) + len, ' ', maxlen - len);
	return result;
}

/*
 * The value padded to the column's length, or NULL when the core function
 * must decide (more characters than fit, or not known to be one byte each).
 */
static BpChar *
bpchar_fitting(const char *s, size_t len, int32 typmod)
{
	if (pg_database_encoding_max_length() > 1 && !bytes_are_ascii(s, len))
		return NULL;
	return bpchar_padded(s, len, typmod);
}

/* bpcharin: the original function is in fn_extra */
static Datum
laredo_bpcharin(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	BpChar	   *result = bpchar_fitting(s, strlen(s), PG_GETARG_INT32(2));

	if (result == NULL)
		return FunctionCall3((FmgrInfo *) fcinfo->flinfo->fn_extra,
							 PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2));
	PG_RETURN_BPCHAR_P(result);
}

/* bpcharrecv: the value is the rest of the buffer, as text */
static Datum
laredo_bpcharrecv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			cursor = buf->cursor;
	int			rawbytes = buf->len - buf->cursor;
	int			nbytes;
	char	   *s;
	BpChar	   *result;

	/* plain ASCII: what pq_getmsgtext would return, read in place */
	if (bytes_are_plain_ascii(buf->data + cursor, rawbytes))
	{
		result = bpchar_padded(buf->data + cursor, rawbytes, PG_GETARG_INT32(2));
		if (result != NULL)
		{
			buf->cursor = buf->len;
			PG_RETURN_BPCHAR_P(result);
		}
	}
	s = pq_getmsgtext(buf, rawbytes, &nbytes);
	result = bpchar_fitting(s, nbytes, PG_GETARG_INT32(2));
	pfree(s);
	if (result == NULL)
	{
		buf->cursor = cursor;
		return FunctionCall3((FmgrInfo *) fcinfo->flinfo->fn_extra,
							 PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2));
	}
	PG_RETURN_BPCHAR_P(result);
}

/*
 * Makes flinfo, looked up for a type's input or receive function, call the
 * functions above when it is bpchar's; any other function is left alone.
 */
void
laredo_bpchar_input_install(FmgrInfo *flinfo)
{
	FmgrInfo   *core;

	if (flinfo->fn_oid != F_BPCHARIN && flinfo->fn_oid != F_BPCHARRECV)
		return;
	if (flinfo->fn_addr == laredo_bpcharin || flinfo->fn_addr == laredo_bpcharrecv)
		return;
	core = MemoryContextAlloc(flinfo->fn_mcxt, sizeof(FmgrInfo));
	*core = *flinfo;
	flinfo->fn_addr = flinfo->fn_oid == F_BPCHARIN ? laredo_bpcharin : laredo_bpcharrecv;
	flinfo->fn_extra = core;
}

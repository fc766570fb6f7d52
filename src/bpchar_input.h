/*-------------------------------------------------------------------------
 * bpchar_input.h
 *	  character(n) input without counting the characters of ASCII values.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_BPCHAR_INPUT_H
#define LAREDO_BPCHAR_INPUT_H

#include "fmgr.h"

extern void laredo_bpchar_input_install(FmgrInfo *flinfo);

#endif

/*-------------------------------------------------------------------------
 * standby_slots.h
 *	  laredo.synchronized_standby_slots: acknowledge only what the
 *	  consumer's standbys have.
 *-------------------------------------------------------------------------
 */
#ifndef LAREDO_STANDBY_SLOTS_H
#define LAREDO_STANDBY_SLOTS_H

#include "utils/guc.h"

extern char *laredo_synchronized_standby_slots;
extern bool laredo_standby_slots_check(char **newval, void **extra, GucSource source);
extern bool laredo_standby_slots_enabled(void);
extern XLogRecPtr laredo_standby_slots_confirmed(void);

#endif

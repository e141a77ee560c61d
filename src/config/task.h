/* config/task.h: the library-internal part of module task: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/task.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CONFIG_TASK_H
#define FR_INTERNAL_CONFIG_TASK_H

#include "featrd/task.h"

/* "auto", "detection", "classification", "dense"; NULL when out of range. */
const char *fr_task_name(FrTask t);

/* "cpu", "gpu" (model.device, --device); NULL when out of range. */
const char *fr_device_name(FrDevice d);

#endif

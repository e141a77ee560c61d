/* featrd/version.h: versions of featrd and of every library it links. */
#ifndef FEATRD_VERSION_H
#define FEATRD_VERSION_H

#include <stdio.h>

/* One "name: version" line per library, to f. The darknet line names the
 * shared object that was actually loaded. Used by `featrd version` and the
 * manifest of every run. */
void fr_versions_print(FILE *f, const char *indent);

#endif

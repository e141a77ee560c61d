/* fuzz_config.c: experiment YAML text → fr_config_load_string (libyaml
 * reader, include-free tree, schema, every cross-key rule) and, when it
 * loads, the canonical dump and its hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    FrExperiment *e = NULL;
    FrError err;
    if (fr_config_load_string(text, "fuzz.yaml", NULL, 0, &e, &err) == 0) {
        char *d = fr_experiment_dump_string(e);
        (void)fr_experiment_hash(e);
        free(d);
        fr_experiment_free(&e);
    }
    free(text);
    return 0;
}

/* allocators.c: the allocators registry, one line per `sweep.allocation`
 * value. The index in this list is the FrAllocation the config stores
 * (uniform must stay first: it is the default, FR_ALLOC_UNIFORM); nothing
 * persists the index (curve names, ids and CSV carry the name), so an entry
 * may be inserted anywhere after it. */
#include <string.h>

#include "alloc/alloc.h"

extern const FrAllocator fr_allocator_uniform, fr_allocator_sensitivity, fr_allocator_rdopt,
    fr_allocator_rdopt_refine;

static const FrAllocator *const allocators[] = {
    &fr_allocator_uniform,     /* alloc.c */
    &fr_allocator_sensitivity, /* alloc.c: seed 004 Algorithm 1 */
    &fr_allocator_rdopt,       /* alloc_rdopt.c */
    &fr_allocator_rdopt_refine,
};

int fr_alloc_count(void)
{
    return (int)(sizeof allocators / sizeof allocators[0]);
}

const FrAllocator *fr_allocator(FrAllocation a)
{
    return a >= 0 && a < fr_alloc_count() ? allocators[a] : NULL;
}

const FrAllocInfo *fr_alloc_info(FrAllocation a)
{
    const FrAllocator *al = fr_allocator(a);
    return al ? &al->info : NULL;
}

int fr_alloc_find(const char *name)
{
    for (int i = 0; name && i < fr_alloc_count(); i++)
        if (!strcmp(allocators[i]->info.name, name))
            return i;
    return -1;
}

/* backends.c: the list of model backends. Adding one is its own file
 * (defining a const FrModelBackend, see model/backend.h) and one line here;
 * docs/model.md, "Adding a model backend". The first is the default. */
#include <stdio.h>
#include <string.h>

#include "model/backend.h"

extern const FrModelBackend fr_model_backend_darknet;

static const FrModelBackend *const backends[] = {
    &fr_model_backend_darknet,
};

int fr_model_backend_count(void)
{
    return (int)(sizeof backends / sizeof backends[0]);
}

const FrModelBackend *fr_model_backend_at(int i)
{
    return i >= 0 && i < fr_model_backend_count() ? backends[i] : NULL;
}

const FrModelBackend *fr_model_backend_find(const char *name)
{
    if (!name || !name[0])
        return backends[0];
    for (int i = 0; i < fr_model_backend_count(); i++)
        if (!strcmp(name, backends[i]->name))
            return backends[i];
    return NULL;
}

const char *fr_model_backend_names(char *buf, size_t cap)
{
    size_t n = 0;
    int count = fr_model_backend_count();
    if (cap)
        buf[0] = 0;
    for (int i = 0; i < count && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i == 0 ? "" : i == count - 1 ? " or " : ", ",
                              backends[i]->name);
    return buf;
}

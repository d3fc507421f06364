/* callable.c - callables by name (SPEC §3): a spec "symbol" is looked up in
 * the running program, "library.so:symbol" in a library loaded with dlopen.
 * Every process of a tree resolves specs itself, so only names travel. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

int strata_callable_resolve(const char *spec, void (**fn)(void)) {
  if (!spec || !*spec || !fn)
    return strata__fail(STRATA_EINVAL, "callable_resolve: spec and fn must be non-NULL and "
                        "spec \"symbol\" or \"library.so:symbol\"");
  const char *colon = strrchr(spec, ':');
  char lib[256] = "";
  const char *sym = colon ? colon + 1 : spec;
  if (colon) snprintf(lib, sizeof(lib), "%.*s", (int)(colon - spec), spec);
  void *h = colon ? dlopen(lib, RTLD_NOW | RTLD_GLOBAL) : dlopen(NULL, RTLD_NOW);
  if (!h)
    return strata__fail(STRATA_ENOENT, "cannot load '%s': %s; give a path dlopen can find "
                        "(or set LD_LIBRARY_PATH)", lib, dlerror());
  void *p = *sym ? dlsym(h, sym) : NULL;
  if (!p)
    return strata__fail(STRATA_ENOENT, "no symbol '%s' in %s; export it (extern, and link "
                        "programs with -rdynamic)", sym, colon ? lib : "the running program");
  memcpy(fn, &p, sizeof(p)); /* object to function pointer, as POSIX dlsym allows */
  return 0;
}

int strata__func_resolve(strata__func *f) { return strata_callable_resolve(f->spec, &f->fn); }

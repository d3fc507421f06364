/* strata/version.h - version numbers and the export macro of the public API. */
#ifndef STRATA_VERSION_H
#define STRATA_VERSION_H

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 5
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.5.0"

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version: STRATA_VERSION_STRING of the build that made it
 * (compare with the header's to catch a mismatched libstrata.so). */
STRATA_API const char *strata_version(void);

#ifdef __cplusplus
}
#endif
#endif

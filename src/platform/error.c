/* error.c - the error table's string functions and the thread-local detailed
 * message of the last failure. */
#include <stdarg.h>
#include <stdio.h>

#include "platform/platform_int.h"

static _Thread_local char last_error[1024];

const char *strata_strerror(int status) {
#define STRATA_ERR_MSG_(name, val, msg) \
  if (status == (val)) return msg;
  STRATA_ERROR_MAP(STRATA_ERR_MSG_)
#undef STRATA_ERR_MSG_
  return "unknown strata status";
}

const char *strata_err_name(int status) {
#define STRATA_ERR_NAME_(name, val, msg) \
  if (status == (val)) return #name;
  STRATA_ERROR_MAP(STRATA_ERR_NAME_)
#undef STRATA_ERR_NAME_
  return "UNKNOWN";
}

const char *strata_last_error(void) { return last_error; }

int strata_chip_code(int status) {
  int code = -status - STRATA_CHIP_CODE_BASE;
  return (status < 0 && code >= 1 && code <= 199) ? code : 0;
}

int strata__fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof(last_error), fmt, ap);
  va_end(ap);
  strata__log(STRATA_LOG_DEBUG, "%s: %s", strata_err_name(code), last_error);
  return code;
}

const char *strata_version(void) { return STRATA_VERSION_STRING; }

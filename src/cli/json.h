/* json.h - a tiny streaming JSON object writer for the CLI's --json output. */
#ifndef STRATA_CLI_JSON_H
#define STRATA_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_json {
  FILE *out;
  int first; /* no member written yet in the current object/array */
} cli_json;

void cli_json_begin(cli_json *j, FILE *out);
void cli_json_end(cli_json *j);
void cli_json_str(cli_json *j, const char *key, const char *value);
void cli_json_int(cli_json *j, const char *key, long long value);
void cli_json_num(cli_json *j, const char *key, double value);
void cli_json_bool(cli_json *j, const char *key, int value);
void cli_json_nums(cli_json *j, const char *key, const double *v, int n);
/* An array of objects: cli_json_array(key), then per element cli_json_item
 * ... members ... cli_json_item_end, then cli_json_array_end. */
void cli_json_array(cli_json *j, const char *key);
void cli_json_item(cli_json *j);
void cli_json_item_end(cli_json *j);
void cli_json_array_end(cli_json *j);

#endif

/* json.c - the CLI's JSON writer: one object of scalars, number arrays and
 * arrays of flat objects; strings escaped. */
#include "cli/json.h"

static void sep(cli_json *j, const char *key) {
  fprintf(j->out, "%s\"%s\":", j->first ? "" : ",", key);
  j->first = 0;
}

static void put_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c < 0x20)
      fprintf(out, "\\u%04x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

void cli_json_begin(cli_json *j, FILE *out) {
  j->out = out;
  j->first = 1;
  fputc('{', out);
}

void cli_json_end(cli_json *j) { fputs("}\n", j->out); }

void cli_json_str(cli_json *j, const char *key, const char *value) {
  sep(j, key);
  put_string(j->out, value);
}

void cli_json_int(cli_json *j, const char *key, long long value) {
  sep(j, key);
  fprintf(j->out, "%lld", value);
}

void cli_json_num(cli_json *j, const char *key, double value) {
  sep(j, key);
  fprintf(j->out, "%.9g", value);
}

void cli_json_bool(cli_json *j, const char *key, int value) {
  sep(j, key);
  fputs(value ? "true" : "false", j->out);
}

void cli_json_nums(cli_json *j, const char *key, const double *v, int n) {
  sep(j, key);
  fputc('[', j->out);
  for (int i = 0; i < n; i++) fprintf(j->out, "%s%.9g", i ? "," : "", v[i]);
  fputc(']', j->out);
}

void cli_json_array(cli_json *j, const char *key) {
  sep(j, key);
  fputc('[', j->out);
  j->first = 1;
}

void cli_json_item(cli_json *j) {
  fputs(j->first ? "{" : ",{", j->out);
  j->first = 1;
}

void cli_json_item_end(cli_json *j) {
  fputc('}', j->out);
  j->first = 0;
}

void cli_json_array_end(cli_json *j) {
  fputc(']', j->out);
  j->first = 0;
}

/* jread.c - a small JSON reader for trace files: parses a whole document
 * into a tree of values (objects keep their keys in order). Enough for the
 * Chrome trace-event format, strata's own and other tools'. */
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

typedef struct parser {
  const char *p, *end;
  int depth;
} parser;

static void skip_ws(parser *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static jval *new_val(int type) {
  jval *v = calloc(1, sizeof(*v));
  if (v) v->type = type;
  return v;
}

static int add_item(jval *v, jval *item, char *key) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    jval **items = realloc(v->items, cap * sizeof(*items));
    char **keys = realloc(v->keys, cap * sizeof(*keys));
    if (items) v->items = items;
    if (keys) v->keys = keys;
    if (!items || !keys) return -1;
    v->cap = cap;
  }
  v->items[v->n] = item;
  v->keys[v->n++] = key;
  return 0;
}

static char *parse_string(parser *s) {
  if (s->p >= s->end || *s->p != '"') return NULL;
  const char *start = ++s->p;
  size_t len = 0;
  char *out = malloc((size_t)(s->end - start) < 4096 ? (size_t)(s->end - start) + 1 : 4096);
  if (!out) return NULL;
  for (; s->p < s->end && *s->p != '"'; s->p++) {
    char c = *s->p;
    if (c == '\\' && s->p + 1 < s->end) {
      c = *++s->p;
      c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'u' ? (s->p += 4 < s->end - s->p ? 4 : 0, '?') : c;
    }
    if (len < 4095) out[len++] = c;
  }
  out[len] = '\0';
  if (s->p >= s->end) return free(out), NULL;
  s->p++;
  return out;
}

static jval *parse_value(parser *s);

static jval *parse_container(parser *s, int type, char close) {
  jval *v = new_val(type);
  if (!v || ++s->depth > 64) return jfree(v), NULL;
  s->p++;
  for (skip_ws(s); s->p < s->end && *s->p != close;) {
    char *key = NULL;
    if (type == J_OBJECT) {
      key = parse_string(s);
      skip_ws(s);
      if (!key || s->p >= s->end || *s->p++ != ':') return free(key), jfree(v), NULL;
    }
    jval *item = parse_value(s);
    if (!item || add_item(v, item, key)) return free(key), jfree(item), jfree(v), NULL;
    skip_ws(s);
    if (s->p < s->end && *s->p == ',') s->p++, skip_ws(s);
  }
  if (s->p >= s->end) return jfree(v), NULL;
  s->p++;
  s->depth--;
  return v;
}

static jval *parse_scalar(parser *s) {
  jval *v = NULL;
  if (*s->p == '"') {
    char *str = parse_string(s);
    if (str && (v = new_val(J_STRING))) v->str = str;
    else free(str);
  } else if (!strncmp(s->p, "true", 4) || !strncmp(s->p, "false", 5) || !strncmp(s->p, "null", 4)) {
    v = new_val(*s->p == 'n' ? J_NULL : J_NUMBER);
    if (v) v->num = *s->p == 't';
    s->p += *s->p == 'f' ? 5 : 4;
  } else {
    char *e;
    double d = strtod(s->p, &e);
    if (e != s->p && (v = new_val(J_NUMBER))) v->num = d;
    s->p = e;
  }
  return v;
}

static jval *parse_value(parser *s) {
  skip_ws(s);
  if (s->p >= s->end) return NULL;
  if (*s->p == '{') return parse_container(s, J_OBJECT, '}');
  if (*s->p == '[') return parse_container(s, J_ARRAY, ']');
  return parse_scalar(s);
}

jval *jparse(const char *text, size_t len) {
  parser s = {text, text + len, 0};
  return parse_value(&s);
}

void jfree(jval *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

const jval *jget(const jval *obj, const char *key) {
  for (size_t i = 0; obj && obj->type == J_OBJECT && i < obj->n; i++)
    if (obj->keys[i] && strcmp(obj->keys[i], key) == 0) return obj->items[i];
  return NULL;
}

double jnum(const jval *v, double def) { return v && v->type == J_NUMBER ? v->num : def; }

const char *jstr(const jval *v, const char *def) { return v && v->type == J_STRING ? v->str : def; }

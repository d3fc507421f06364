/* consumer.c - a program built out of tree against an installed strata
 * (pkg-config and find_package(strata)): c = a + b on a simulated chip,
 * checked on the host. Prints "consumer ok" and exits 0 on success. */
#include <stdio.h>
#include <strata.h>

static void k_add(strata_kernel_ctx *k) {
  const float *a = strata_kernel_tensor(k, 0)->data, *b = strata_kernel_tensor(k, 1)->data;
  float *c = strata_kernel_tensor(k, 2)->data;
  for (size_t i = 0; i < strata_kernel_tensor(k, 2)->bytes / sizeof(float); i++) c[i] = a[i] + b[i];
}

static uint32_t ADD;

static void orch(strata_orch *o, void *arg) {
  strata_tensor *t = arg;
  strata_args g;
  strata_args_init(&g);
  strata_args_tensor(&g, STRATA_INPUT, &t[0]);
  strata_args_tensor(&g, STRATA_INPUT, &t[1]);
  strata_args_tensor(&g, STRATA_OUTPUT_EXISTING, &t[2]);
  strata_orch_submit(o, ADD, &g, NULL);
}

int main(void) {
  float a[64], b[64], c[64] = {0};
  for (int i = 0; i < 64; i++) a[i] = (float)i, b[i] = 2.0f * (float)i;
  strata_tensor t[3] = {strata_tensor_external(a, sizeof(a), STRATA_DT_F32),
                        strata_tensor_external(b, sizeof(b), STRATA_DT_F32),
                        strata_tensor_external(c, sizeof(c), STRATA_DT_F32)};
  strata_chip *chip;
  strata_run_info info;
  int rc = strata_chip_create(NULL, &chip);
  if (rc == 0) rc = strata_chip_register_kernel(chip, "add", k_add, STRATA_CORE_AIV, &ADD);
  if (rc == 0) rc = strata_chip_run(chip, orch, t, &info);
  strata_chip_destroy(chip);
  for (int i = 0; rc == 0 && i < 64; i++)
    if (c[i] != 3.0f * (float)i) rc = 1;
  printf("consumer %s (strata %s): %s\n", rc ? "FAILED" : "ok", STRATA_VERSION_STRING,
         rc ? strata_last_error() : "c = a + b checked");
  return rc ? 1 : 0;
}

/* kernel_lib.c - a kernel library built as a shared object, loaded by name
 * ("libstrata_test_kernels.so:strata_test_k_triple") in every process of a
 * tree by test_level. It binds to the loading program's strata symbols. */
#include "strata.h"

void strata_test_k_triple(strata_kernel_ctx *k);
void strata_test_o_triple(strata_orch *o, void *arg);

void strata_test_k_triple(strata_kernel_ctx *k) { /* t1 = 3 t0 (doubles) */
  const double *x = strata_kernel_tensor(k, 0)->data;
  double *y = strata_kernel_tensor(k, 1)->data;
  for (size_t i = 0; i < strata_kernel_tensor(k, 1)->bytes / sizeof(double); i++) y[i] = 3 * x[i];
}

void strata_test_o_triple(strata_orch *o, void *arg) { /* the kernel, found by name */
  strata_args a = *(const strata_args *)arg;
  uint32_t k;
  a.ndeps = 0;
  if (strata_chip_find_kernel(strata_orch_chip(o), "triple", &k) == 0)
    strata_orch_submit(o, k, &a, NULL);
  else
    strata_orch_fatal(o, "kernel 'triple' is not registered on this chip");
}

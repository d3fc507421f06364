/* harness.h - the test registry: every test is declared with
 * STRATA_TEST(name) on its own line. CMake scans those lines to register one
 * ctest entry per test (each in its own process, with a timeout) and to
 * generate <file>_list.h, from which main() builds the cmocka table. Run a
 * test binary with a test name to run only that test; exit 77 means skip. */
#ifndef STRATA_TEST_HARNESS_H
#define STRATA_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define STRATA_TEST(name) static void name(void **state)

/* main() for a test file: `list` is the generated X-macro list. */
#define STRATA_TEST_MAIN(list)                                                   \
  int main(int argc, char **argv) {                                              \
    const struct CMUnitTest all[] = {list(STRATA_TEST_ENTRY_)};                  \
    if (argc > 1) {                                                              \
      int found = 0;                                                             \
      for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)                 \
        found |= strcmp(all[i].name, argv[1]) == 0;                              \
      if (!found) {                                                              \
        fprintf(stderr, "no test named '%s'\n", argv[1]);                        \
        return 2;                                                                \
      }                                                                          \
      cmocka_set_test_filter(argv[1]);                                           \
    }                                                                            \
    return cmocka_run_group_tests(all, NULL, NULL);                              \
  }
#define STRATA_TEST_ENTRY_(name) cmocka_unit_test(name),

#endif

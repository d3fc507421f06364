/* strata.h - public API of strata, a runtime for task dependency graphs on a
 * hierarchy of simulated chips. Include this header only. */
#ifndef STRATA_H
#define STRATA_H

#include "strata/version.h"
#include "strata/error.h"
#include "strata/chip.h"
#include "strata/node.h"
#include "strata/comm.h"
#include "strata/trace.h"
#include "strata/mpi.h"

#endif

/* comm_ext.h - what the comm layer offers the layers above it (src/mpi):
 * its extension ops (to name extension controls that travel between ranks)
 * and the geometry of a hierarchical domain's gateway segment, which a
 * rank's gateway (the MPI thread) maps beside the chips of its node.
 */
#ifndef STRATA_COMM_EXT_H
#define STRATA_COMM_EXT_H

#include "level/level_ext.h"

/* The comm layer's extension ops (level_ext.h). */
STRATA_HIDDEN const strata__ext_ops *strata__comm_ext_ops(void);

#endif

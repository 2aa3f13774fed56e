# tests/mpi.mk — multi-rank jobs under the MPI launcher (builds configured
# --with-mpi only).
if FR_MPI
TESTS += tests/test_mpi.sh
endif
EXTRA_DIST += tests/test_mpi.sh tests/lsan-mpi.supp

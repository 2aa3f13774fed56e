# tests/mpi.mk — multi-rank jobs under the MPI launcher. Always in TESTS: a
# build without MPI (or without a launcher) reports them as skipped.
TESTS += tests/test_mpi.sh tests/test_interrupt_mpi.sh
EXTRA_DIST += tests/test_mpi.sh tests/test_interrupt_mpi.sh tests/lsan-mpi.supp

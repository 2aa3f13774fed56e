# testutil.sh — helpers shared by the shell tests (sourced: . "$top_srcdir/tests/testutil.sh").
#
# The convention every test follows (tests/testutil.h has the C side): a
# test that cannot run at all exits 77 (automake's SKIP); a test with
# several parts, one of which cannot run here (data in ../shared absent, no
# OpenCL device, no MPI), prints one line "SKIP: <the part>: <why>" for that
# part, runs the others, and passes or fails on them. .ci/run counts each
# such line as one skipped test, so a part that did not run is never
# counted as passed.

# skip_part TEXT: reports a part of this test that cannot run here.
skip_part() {
    echo "SKIP: $*" >&2
}

# have_opencl_device: true when $FEDREC lists at least one OpenCL device
# (a build with the OpenCL backend and a driver: pocl-opencl-icd on CPUs).
have_opencl_device() {
    "$FEDREC" devices 2>/dev/null | grep -q '^OpenCL devices ([1-9]'
}

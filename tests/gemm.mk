# tests/gemm.mk — tests of the gemm part.

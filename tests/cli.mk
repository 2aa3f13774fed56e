# tests/cli.mk — tests of the cli part.

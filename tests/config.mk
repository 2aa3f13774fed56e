# tests/config.mk — tests of the config part.

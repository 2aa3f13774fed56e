# tests/backend.mk — tests of the backend part.

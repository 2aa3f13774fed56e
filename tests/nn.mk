# tests/nn.mk — tests of the nn part.

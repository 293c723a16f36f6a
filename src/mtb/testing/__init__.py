"""Test helpers that ship with mtb, so the test suite and bench/ share them."""

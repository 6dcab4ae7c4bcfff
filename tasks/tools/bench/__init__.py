"""``accounting bench``: scenarios that print their figures next to a baseline run in the same
invocation. They measure; the test suite only checks that they run and report."""

"""Release gates: a policy file, a pure decide(), paired regression tests, contract checks."""

"""Proof checker: sympy, z3 and Lean checks behind one verdict type."""

"""Transformations of IR functions: autodiff (JVP, partial evaluation, transpose) and batching.

Each transformation is an interpreter over a Function that re-emits its ops,
rewritten by a rule table keyed by primitive, into a fresh trace; the result is
a new Function that can be transformed again, optimised and compiled.
"""

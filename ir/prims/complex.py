"""Complex-number primitives: complex (from real and imaginary parts), real, imag, conj."""

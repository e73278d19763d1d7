"""Test-wide settings: the IR verifier runs after every pass in every test."""

from llax.config import config

config.update("llax_verify", True)

"""The proof kernel: the only place a claim becomes true (an exact zero decision, sound by construction)."""
from .zero import Decision, decide_zero

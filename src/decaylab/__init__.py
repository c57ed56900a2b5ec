"""decaylab: how L2 weight decay interacts with weight initialization (Nielsen, ch. 3)."""

__version__ = "0.1.0"

"""tierlab: what Linux does with memory that comes in tiers."""
__version__ = "0.1.0"

"""What a benchmark figure was measured on (see ``landinglib.profiling.describe_machine``)."""
from landinglib.profiling import describe_machine as describe

__all__ = ["describe"]

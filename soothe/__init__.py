"""soothe: the umbrella command and the simulated study.

The umbrella only dispatches: each layer (``conditions``, ``experiment``, ``physio``,
``analysis``) owns its own subcommands.
"""

__version__ = "0.1.0"

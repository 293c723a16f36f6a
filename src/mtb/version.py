"""mtb's version, in a module of its own.

A module inside mtb that needs the version (the run files record it) imports it
from here, not from the package's `__init__`: importing the package from one of
its own modules is an import circle, since the package is where everything is
reached from.
"""

__version__ = "0.1.0"

"""Write runtime plugins in Python (see plugins/sdk-python/README.md).

    from runtime_plugin import Transform, export_transform, arrow

The `arrow` module is plain Python and runs anywhere; the export functions
need the bindings componentize-py generates when it builds the component.
"""

from . import arrow, log
from .errors import Internal, InvalidInput, InvalidOptions, IoError, PluginError, Unsupported
from .info import Option, Planning, PluginInfo, check_options
from .reader import Input, InputFile, Reader, Split, export_reader, partial
from .transform import FINAL, PARTIAL, SINGLE, Transform, Transformer, export_transform

__all__ = [
    "arrow", "log", "PluginError", "InvalidOptions", "InvalidInput", "Unsupported", "IoError", "Internal",
    "Option", "Planning", "PluginInfo", "check_options", "Reader", "Input", "InputFile", "Split",
    "export_reader", "partial", "Transform", "Transformer", "export_transform", "SINGLE", "PARTIAL", "FINAL",
]

"""The module componentize-py builds into the component: it exports the
plugin class of plugin.py through the SDK's bindings (which exist only inside
the component, so the tests import plugin.py directly)."""

import runtime_plugin as rp

import plugin

{{export}}

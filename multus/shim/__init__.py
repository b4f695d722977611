"""multus-shim: the thick plugin's CNI binary, a thin client of the Multus daemon (see ``shim``).

Kept empty of imports: the shim's start-up time is on every pod's start path.
"""

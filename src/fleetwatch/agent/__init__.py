"""The fleetwatch agent: collectors, snapshot assembly, local status endpoint, daemon.

Runtime imports stay light: psutil and the standard library only (never pydantic, never
anything under `fleetwatch.hub`); a test asserts this.
"""
